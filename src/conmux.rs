//! The console multiplexer: several guests and sluice share one physical UART.
//!
//! Plain data with its effects returned as values: the hypervisor's console code calls
//! [`ConsoleMux::output`] for every byte a guest transmits and writes the [`Output`] to the UART,
//! calls [`ConsoleMux::before_sluice_line`] before each `[sluice] ` line, and feeds every typed
//! byte to [`ConsoleMux::input`], which says which guest receives it or what sluice must do.
//!
//! The multiplexer lives under the console lock, next to the UART, and every byte on the UART
//! goes through it, so that it always knows whose line the UART is in the middle of:
//! - guest `g` transmits `b`: write `output(g, b)`;
//! - a sluice line: write `before_sluice_line()`, then `[sluice] `, the text and CR LF;
//! - typed bytes: for each, `input(b)`; deliver `delivery()` to that guest's vUART (after
//!   dropping the lock), then carry out `command`: the exit table, or a focus move (print the
//!   [`Announcement`] as a sluice line, then write `resume()`);
//! - a guest reboots: write `restart(g)`; it stops: write `stop(g).0` and announce `stop(g).1`.
//!
//! # Output
//! With one guest nothing changes from the time sluice ran a single guest: its bytes go out as it
//! writes them, without a prefix, and a sluice line that arrives mid-line first ends the guest's
//! line with CR LF.
//!
//! With several guests, every line on the UART belongs to one guest or to sluice:
//! - A guest's line starts with its name in parentheses and a space, `(net0) `, as Xen writes
//!   `(d1) `; sluice's own lines start with `[sluice] ` and stay unprefixed.
//! - The focused guest (the one that receives input) goes out byte by byte, so echo and prompts
//!   show at once. Every other guest's line waits in that guest's line buffer and goes out whole
//!   when its newline comes: lines of two guests never mix.
//! - A line that has to end before its guest's newline ends with [`CUT_MARKER`] (` [...]`) and
//!   CR LF. That happens when another guest's line or a sluice line must go out while the
//!   focused guest is mid-line, and when a guest has written [`LINE_BYTES`] without a newline:
//!   the buffer never grows past that, and a guest that never sends a newline cannot hold its
//!   bytes back forever nor keep other guests' lines from going out. A cut line of the focused
//!   guest is shown again, prefixed and whole, with the next byte it writes (or at
//!   [`ConsoleMux::resume`]), so a half-typed command line or prompt reappears below whatever
//!   cut it; a line cut at [`LINE_BYTES`] goes on after the marker on a new prefixed line.
//!   A guest that reboots or stops has its unfinished line sent, cut, at once.
//! - Bytes pass as the guest wrote them: carriage returns, tabs and ANSI sequences stay within
//!   their line (a `\r` therefore returns to the column of the prefix). The guest's own tty adds
//!   the CR before its LF; the multiplexer adds CR LF only after its marker.
//!
//! # Input
//! Typed bytes go to one guest, the focus (at first guest 0). With several guests, Ctrl-A
//! ([`ESCAPE_FOCUS`]) typed three times in a row moves the focus to the next running guest and
//! sluice says so on a line of its own ([`Announcement`]). One or two Ctrl-A followed by any
//! other byte reach the guest as typed (they are held back until that byte arrives). Ctrl-\
//! ([`ESCAPE_EXIT_TABLE`]) never reaches a guest: it asks for sluice's exit table (Ctrl-As held
//! back before it are delivered first). A guest that stops loses the focus to the next running
//! guest; while no guest runs, typed bytes are dropped. With one guest, Ctrl-A is not an escape
//! and reaches the guest at once, as it did before.
#![forbid(unsafe_code)]

use alloc::vec::Vec;
use core::fmt;

/// Most bytes of a guest's line held or shown before it is cut (the newline may come on top).
pub const LINE_BYTES: usize = 256;
/// Longest guest name.
pub const NAME_MAX_BYTES: usize = 16;
/// What ends a line cut before its guest's newline.
pub const CUT_MARKER: &[u8] = b" [...]";
/// Ctrl-A: three in a row move the input focus to the next running guest.
pub const ESCAPE_FOCUS: u8 = 0x01;
/// How many Ctrl-A in a row move the focus.
pub const ESCAPE_FOCUS_COUNT: u8 = 3;
/// Ctrl-\: prints sluice's exit table; never reaches a guest.
pub const ESCAPE_EXIT_TABLE: u8 = 0x1c;

const CRLF: &[u8] = b"\r\n";
/// `(` name `) `.
const PREFIX_MAX_BYTES: usize = NAME_MAX_BYTES + 3;
const CUT_BYTES: usize = CUT_MARKER.len() + CRLF.len();
/// The most one call can produce: another guest's line cut, a whole buffer shown and cut, and
/// a new prefix with one byte (the focused guest writing past a full line it had not shown).
pub const OUTPUT_CAPACITY: usize = 2 * CUT_BYTES + 2 * PREFIX_MAX_BYTES + LINE_BYTES + 1;

/// Why a multiplexer cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// No guest to multiplex.
    NoGuests,
    /// A name is empty, longer than [`NAME_MAX_BYTES`] or has a byte outside printable ASCII.
    BadName,
    /// Two guests have the same name.
    DuplicateName,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::NoGuests => f.write_str("no guest on the console"),
            Error::BadName => write!(
                f,
                "a guest name must be 1 to {NAME_MAX_BYTES} bytes of printable ASCII, no space"
            ),
            Error::DuplicateName => f.write_str("two guests have the same name"),
        }
    }
}

/// Result of this module.
pub type Result<T> = core::result::Result<T, Error>;

/// A guest's name as its console lines show it: 1 to [`NAME_MAX_BYTES`] bytes of printable
/// ASCII without space (the binding's rule, so a node's default name `guest@0` is one).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct GuestName {
    bytes: [u8; NAME_MAX_BYTES],
    len: u8,
}

impl GuestName {
    /// Checks `name`.
    pub fn new(name: &str) -> Result<Self> {
        // The binding's rule (dts/guests.md): printable ASCII, no space.
        let allowed = |b: &u8| b.is_ascii_graphic();
        if name.is_empty() || name.len() > NAME_MAX_BYTES || !name.bytes().all(|b| allowed(&b)) {
            return Err(Error::BadName);
        }
        let mut bytes = [0; NAME_MAX_BYTES];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Ok(Self {
            bytes,
            len: name.len() as u8,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Only ASCII gets in (`new`), so this never falls back.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("?")
    }
}

impl fmt::Display for GuestName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for GuestName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// Bytes to write to the physical UART, in order (at most [`OUTPUT_CAPACITY`]).
#[derive(Clone)]
pub struct Output {
    bytes: [u8; OUTPUT_CAPACITY],
    len: usize,
}

impl Output {
    fn new() -> Self {
        Self {
            bytes: [0; OUTPUT_CAPACITY],
            len: 0,
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        // The capacity covers the worst case (see OUTPUT_CAPACITY); should that ever be wrong,
        // output is cut short rather than the hypervisor stopped.
        let room = OUTPUT_CAPACITY - self.len;
        debug_assert!(bytes.len() <= room, "OUTPUT_CAPACITY too small");
        let n = bytes.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// The bytes, in order.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Output(\"{}\")", self.as_bytes().escape_ascii())
    }
}

/// A guest's line not yet ended, and how much of it the UART shows.
#[derive(Clone)]
struct Line {
    bytes: [u8; LINE_BYTES + 1],
    len: usize,
    /// Bytes already on the UART after the prefix (only while this line is the open one).
    shown: usize,
}

impl Line {
    const EMPTY: Line = Line {
        bytes: [0; LINE_BYTES + 1],
        len: 0,
        shown: 0,
    };

    fn is_full(&self) -> bool {
        self.len >= LINE_BYTES
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn clear(&mut self) {
        self.len = 0;
        self.shown = 0;
    }
}

/// One guest's side of the console.
#[derive(Clone)]
struct Guest {
    name: GuestName,
    line: Line,
    running: bool,
}

/// The console multiplexer (see the module documentation for what it does).
#[derive(Clone)]
pub struct ConsoleMux {
    guests: Vec<Guest>,
    /// The guest that receives input.
    focus: usize,
    /// Whose line the UART is in the middle of (sluice's lines always end).
    open: Option<usize>,
    /// Ctrl-As typed in a row and not yet delivered.
    held_escapes: u8,
}

mod input;

pub use input::{Announcement, Command, InputEffect};

impl ConsoleMux {
    /// A console for guests called `names` (guest N is `names[N]`), all running, guest 0 focused.
    pub fn new(names: &[&str]) -> Result<Self> {
        if names.is_empty() {
            return Err(Error::NoGuests);
        }
        let mut guests: Vec<Guest> = Vec::with_capacity(names.len());
        for name in names {
            let name = GuestName::new(name)?;
            if guests.iter().any(|g| g.name == name) {
                return Err(Error::DuplicateName);
            }
            guests.push(Guest {
                name,
                line: Line::EMPTY,
                running: true,
            });
        }
        Ok(Self {
            guests,
            focus: 0,
            open: None,
            held_escapes: 0,
        })
    }

    /// Number of guests.
    pub fn guests(&self) -> usize {
        self.guests.len()
    }

    /// Guest `guest`'s name, if there is such a guest.
    pub fn name(&self, guest: usize) -> Option<GuestName> {
        self.guests.get(guest).map(|g| g.name)
    }

    /// The guest that receives input.
    pub fn focus(&self) -> usize {
        self.focus
    }

    /// Whether guest `guest` runs (it stops at [`ConsoleMux::stop`]).
    pub fn is_running(&self, guest: usize) -> bool {
        self.guests.get(guest).is_some_and(|g| g.running)
    }

    fn single(&self) -> bool {
        self.guests.len() == 1
    }

    /// Guest `guest` transmitted `byte`: what to write to the UART now (maybe nothing).
    /// An unknown guest writes nothing.
    pub fn output(&mut self, guest: usize, byte: u8) -> Output {
        let mut out = Output::new();
        if guest >= self.guests.len() {
            return out;
        }
        if self.single() {
            out.extend(&[byte]);
            self.open = (byte != b'\n').then_some(guest);
            return out;
        }
        if self.guests[guest].line.is_full() && byte != b'\n' {
            // No room for another byte: the line goes on in a new one.
            self.show(guest, &mut out);
            self.cut_open_line(&mut out);
            self.guests[guest].line.clear();
        }
        self.guests[guest].line.push(byte);
        if guest == self.focus || byte == b'\n' {
            self.show(guest, &mut out);
        }
        if byte == b'\n' {
            self.open = None;
            self.guests[guest].line.clear();
        }
        out
    }

    /// What to write before a sluice line (which must end with its newline): the end of the
    /// line the UART is in the middle of, if any.
    pub fn before_sluice_line(&mut self) -> Output {
        let mut out = Output::new();
        self.cut_open_line(&mut out);
        out
    }

    /// Shows the focused guest's line again (after sluice's lines cut it), so a prompt or a
    /// half-typed command is on screen before the user types on. Optional: the guest's next
    /// byte shows it anyway.
    pub fn resume(&mut self) -> Output {
        let mut out = Output::new();
        let focus = self.focus;
        if !self.single() && self.is_running(focus) && self.guests[focus].line.len > 0 {
            self.show(focus, &mut out);
        }
        out
    }

    /// Guest `guest` stopped (powered off or stopped for a fault): its unfinished line goes out,
    /// cut, and if it had the focus the next running guest gets it (announce it).
    pub fn stop(&mut self, guest: usize) -> (Output, Option<Announcement>) {
        let mut out = Output::new();
        let Some(g) = self.guests.get_mut(guest) else {
            return (out, None);
        };
        g.running = false;
        self.send_unfinished(guest, &mut out);
        let moved = if guest == self.focus {
            self.cycle_focus()
        } else {
            None
        };
        (out, moved)
    }

    /// Guest `guest` rebooted: its unfinished line goes out, cut, so that its new boot starts
    /// on a line of its own; it keeps the focus if it had it.
    pub fn restart(&mut self, guest: usize) -> Output {
        let mut out = Output::new();
        if guest < self.guests.len() {
            self.send_unfinished(guest, &mut out);
        }
        out
    }

    /// Guest `guest` runs again; it takes the focus (announce it) if no running guest had it.
    pub fn start(&mut self, guest: usize) -> Option<Announcement> {
        let g = self.guests.get_mut(guest)?;
        g.running = true;
        if self.is_running(self.focus) {
            return None;
        }
        self.focus = guest;
        Some(self.announcement())
    }

    /// Sends `guest`'s unfinished line, cut (nothing with one guest: its line is out already).
    fn send_unfinished(&mut self, guest: usize, out: &mut Output) {
        if !self.single() && self.guests[guest].line.len > 0 {
            self.show(guest, out);
            self.cut_open_line(out);
            self.guests[guest].line.clear();
        }
    }

    /// Makes the UART show all of `guest`'s line: the missing tail if its line is the open
    /// one, else (after cutting the open line) the prefix and the whole line.
    fn show(&mut self, guest: usize, out: &mut Output) {
        if self.open != Some(guest) {
            self.cut_open_line(out);
            let name = self.guests[guest].name;
            out.extend(b"(");
            out.extend(name.as_str().as_bytes());
            out.extend(b") ");
            self.open = Some(guest);
        }
        let line = &mut self.guests[guest].line;
        out.extend(&line.bytes[line.shown..line.len]);
        line.shown = line.len;
    }

    /// Ends the line the UART is in the middle of, if any (with the marker; with one guest, as
    /// before the multiplexer, with CR LF alone).
    fn cut_open_line(&mut self, out: &mut Output) {
        let Some(owner) = self.open.take() else {
            return;
        };
        if !self.single() {
            out.extend(CUT_MARKER);
        }
        out.extend(CRLF);
        if let Some(g) = self.guests.get_mut(owner) {
            g.line.shown = 0;
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_input;
