//! Log lines to the Windows Event Log (feature `windows`, Windows only), under the event source
//! named by [`ENV_EVENT_LOG_SOURCE`](crate::contract::ENV_EVENT_LOG_SOURCE).
//!
//! [`logging::init`](crate::logging::init) adds this writer when the variable is set: each log
//! line becomes one event in the Application log, its text the line as formatted for standard
//! error (without the time and level, which the event carries; a whole JSON object with
//! `BERTH_LOG_FORMAT=json`).
//!
//! | tracing level | event type | event ID |
//! |---|---|---|
//! | ERROR | error (`EVENTLOG_ERROR_TYPE`) | 3 |
//! | WARN | warning (`EVENTLOG_WARNING_TYPE`) | 2 |
//! | INFO, DEBUG, TRACE | information (`EVENTLOG_INFORMATION_TYPE`) | 1 |
//!
//! The IDs lie in 1–1000 on purpose: the generated install script registers the source with
//! `%SystemRoot%\System32\EventCreate.exe` as its message file, whose message table (part of
//! every Windows since XP) maps each of those IDs to the text `%1`, so Event Viewer shows the
//! line itself, without a message DLL of the daemon's own.
//!
//! The two Win32 calls (`RegisterEventSourceW`, `ReportEventW`) are the only `unsafe` code of
//! the workspace; each has its safety argument next to it.

#![allow(unsafe_code)]

use std::io;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use windows_sys::Win32::System::EventLog::{
    EVENTLOG_ERROR_TYPE, EVENTLOG_INFORMATION_TYPE, EVENTLOG_WARNING_TYPE, REPORT_EVENT_TYPE,
    RegisterEventSourceW, ReportEventW,
};

/// Event ID of information events (INFO, DEBUG, TRACE).
pub(crate) const EVENT_ID_INFORMATION: u32 = 1;
/// Event ID of warning events (WARN).
pub(crate) const EVENT_ID_WARNING: u32 = 2;
/// Event ID of error events (ERROR).
pub(crate) const EVENT_ID_ERROR: u32 = 3;

/// The longest insertion string `ReportEventW` takes is 31,839 characters: longer lines are cut
/// (at a character boundary) and end with `…`.
const MAX_CHARS: usize = 31_000;

/// A registered event source: makes one [`EventRecord`] per log line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventLog {
    /// The event source handle as an address: an integer is `Send + Sync`, and the handle is
    /// used for the whole life of the process (never deregistered, like the global subscriber).
    handle: usize,
}

impl EventLog {
    /// Registers `source` (the Application log's source of that name). An error when Windows
    /// refuses; an unregistered source still works (Event Viewer then says the description was
    /// not found and shows the text below that).
    pub(crate) fn register(source: &str) -> io::Result<EventLog> {
        let name = wide(source);
        // SAFETY: both pointers are null or point to NUL-terminated UTF-16 strings that live
        // across the call (`name` is owned here); the function reads them and keeps no pointer.
        let handle = unsafe { RegisterEventSourceW(std::ptr::null(), name.as_ptr()) };
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        Ok(EventLog {
            handle: handle as usize,
        })
    }

    /// Reports one event of `kind` with `text` as its only insertion string.
    fn report(self, kind: REPORT_EVENT_TYPE, id: u32, text: &str) -> io::Result<()> {
        let text = wide(&truncate(text));
        let strings = [text.as_ptr()];
        // SAFETY: `handle` came from a successful RegisterEventSourceW and is never closed;
        // `strings` holds one pointer to a NUL-terminated UTF-16 string, both live across the
        // call; no SID (null) and no raw data (size 0, null).
        let ok = unsafe {
            ReportEventW(
                self.handle as *mut std::ffi::c_void,
                kind,
                0,
                id,
                std::ptr::null_mut(),
                1,
                0,
                strings.as_ptr(),
                std::ptr::null(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for EventLog {
    type Writer = EventRecord;

    fn make_writer(&'a self) -> EventRecord {
        EventRecord::new(*self, &Level::INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> EventRecord {
        EventRecord::new(*self, meta.level())
    }
}

/// One log line on its way to the Event Log: the formatter writes it, dropping it reports it.
pub(crate) struct EventRecord {
    log: EventLog,
    kind: REPORT_EVENT_TYPE,
    id: u32,
    line: Vec<u8>,
}

impl EventRecord {
    fn new(log: EventLog, level: &Level) -> EventRecord {
        let (kind, id) = event_type(level);
        EventRecord {
            log,
            kind,
            id,
            line: Vec::new(),
        }
    }
}

impl io::Write for EventRecord {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventRecord {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        // Logging must not stop the daemon: a refused event is dropped (the other outputs,
        // standard error and BERTH_LOG_FILE, still have the line).
        let _ = self.log.report(self.kind, self.id, text);
    }
}

/// The event type and ID of a tracing level.
pub(crate) fn event_type(level: &Level) -> (REPORT_EVENT_TYPE, u32) {
    match *level {
        Level::ERROR => (EVENTLOG_ERROR_TYPE, EVENT_ID_ERROR),
        Level::WARN => (EVENTLOG_WARNING_TYPE, EVENT_ID_WARNING),
        _ => (EVENTLOG_INFORMATION_TYPE, EVENT_ID_INFORMATION),
    }
}

/// `text` cut to [`MAX_CHARS`] characters.
fn truncate(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]).into(),
        None => text.into(),
    }
}

/// NUL-terminated UTF-16; an interior NUL would end the string early, so it becomes U+FFFD.
fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16()
        .map(|u| if u == 0 { 0xFFFD } else { u })
        .chain(std::iter::once(0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_event_types_and_ids() {
        assert_eq!(event_type(&Level::ERROR), (EVENTLOG_ERROR_TYPE, 3));
        assert_eq!(event_type(&Level::WARN), (EVENTLOG_WARNING_TYPE, 2));
        for level in [Level::INFO, Level::DEBUG, Level::TRACE] {
            assert_eq!(event_type(&level), (EVENTLOG_INFORMATION_TYPE, 1));
        }
    }

    #[test]
    fn long_lines_are_cut_and_strings_are_nul_terminated() {
        let long = "é".repeat(MAX_CHARS + 10);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), MAX_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short"), "short");
        assert_eq!(
            wide("a\0b"),
            vec![u16::from(b'a'), 0xFFFD, u16::from(b'b'), 0]
        );
    }
}
