//! Fuzzes the smtp service inspector through the real API: the input is a script of
//! chunks, each `[op, len, bytes...]`: op bit 0 picks the direction, ops with bits
//! 1-4 all set are a gap of `len * 7 + 1` bytes, the others carry the next `len`
//! bytes as data. Every event is rendered to JSON; the flow ends with `end`.
#![no_main]

use flowengine::inspect::Transport;
use flowengine_inspectors_fuzz::drive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // One script drives SMTP, and the STARTTLS watchers of IMAP, POP3 and FTP.
    drive(
        &flowengine_inspectors::smtp::SmtpInspector::new(),
        Transport::Tcp,
        25,
        data,
    );
    drive(
        &flowengine_inspectors::imap::ImapInspector::new(),
        Transport::Tcp,
        143,
        data,
    );
    drive(
        &flowengine_inspectors::pop3::Pop3Inspector::new(),
        Transport::Tcp,
        110,
        data,
    );
    drive(
        &flowengine_inspectors::ftp::FtpInspector::new(),
        Transport::Tcp,
        21,
        data,
    );
});
