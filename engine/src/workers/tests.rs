use super::*;
use crate::record::Collect;

#[test]
fn each_worker_gets_its_share_of_the_flow_limits() {
    let mut c = Config::default();
    c.stream.max_flows = 1001;
    c.stream.memcap = 0;
    let part = split(&c, 2);
    assert_eq!(part.stream.max_flows, 501);
    assert_eq!(part.stream.memcap, 0, "no memory cap stays none");
    c.stream.memcap = 10;
    assert_eq!(split(&c, 3).stream.memcap, 4);
}

#[test]
fn one_thread_runs_in_the_callers_thread_and_counts_every_frame() {
    let w = Workers::new(&Config::default(), InspectorSet::new(), 1, |_| {
        Collect::default()
    })
    .unwrap();
    assert_eq!(w.threads(), 1);
    assert!(w.stats().is_some());
    let w = Workers::new(&Config::default(), InspectorSet::new(), 2, |_| {
        Collect::default()
    })
    .unwrap();
    assert_eq!(w.threads(), 2);
    assert_eq!(w.frames_per_worker(), vec![0, 0]);
    let (stats, sinks) = w.finish();
    assert_eq!(sinks.len(), 2);
    assert_eq!(stats.records, 0);
    assert_eq!(
        stats.max_flows,
        u64::from(Config::default().stream.max_flows.div_ceil(2)) * 2
    );
}

#[test]
fn without_the_tunnel_depth_in_the_key_the_engine_runs_one_worker() {
    let mut c = Config::default();
    c.decoder.recursion_level.use_for_tracking = false;
    let w = Workers::new(&c, InspectorSet::new(), 4, |_| Collect::default()).unwrap();
    assert_eq!(w.threads(), 1);
}
