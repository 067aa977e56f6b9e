//! Console input: which guest a typed byte is for, and the escapes sluice keeps for itself.
#![forbid(unsafe_code)]

use super::{ConsoleMux, GuestName, ESCAPE_EXIT_TABLE, ESCAPE_FOCUS, ESCAPE_FOCUS_COUNT};
use core::fmt;

/// What sluice must do about a typed byte besides delivering bytes to a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Ctrl-\ was typed: print the exit table.
    ShowExitTable,
    /// The focus moved: print the announcement as a sluice line, then write
    /// [`ConsoleMux::resume`] to show the new focus's unfinished line.
    FocusMoved(Announcement),
}

/// The line sluice prints when the input focus moves:
/// `console input now goes to guest NAME (Ctrl-A three times switches)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    /// The guest that now receives input.
    pub guest: usize,
    /// Its name.
    pub name: GuestName,
}

impl fmt::Display for Announcement {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "console input now goes to guest {} (Ctrl-A three times switches)",
            self.name
        )
    }
}

/// What one typed byte asks for: bytes for a guest's UART (Ctrl-As held back, then the byte)
/// and maybe a command for sluice, to be carried out after the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEffect {
    guest: usize,
    bytes: [u8; ESCAPE_FOCUS_COUNT as usize],
    len: u8,
    /// What sluice itself must do.
    pub command: Option<Command>,
}

impl InputEffect {
    fn nothing(guest: usize) -> Self {
        Self {
            guest,
            bytes: [0; ESCAPE_FOCUS_COUNT as usize],
            len: 0,
            command: None,
        }
    }

    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(usize::from(self.len)) {
            *slot = byte;
            self.len += 1;
        }
    }

    /// The guest to receive bytes and the bytes, in order; `None` when there are none.
    pub fn delivery(&self) -> Option<(usize, &[u8])> {
        (self.len > 0).then(|| (self.guest, &self.bytes[..usize::from(self.len)]))
    }
}

impl ConsoleMux {
    /// A byte was typed on the console: where it goes (see the module documentation).
    pub fn input(&mut self, byte: u8) -> InputEffect {
        let mut effect = InputEffect::nothing(self.focus);
        match byte {
            ESCAPE_EXIT_TABLE => {
                self.release_held(&mut effect);
                effect.command = Some(Command::ShowExitTable);
            }
            ESCAPE_FOCUS if !self.single() => {
                self.held_escapes += 1;
                if self.held_escapes >= ESCAPE_FOCUS_COUNT {
                    self.held_escapes = 0;
                    effect.command = self.cycle_focus().map(Command::FocusMoved);
                }
            }
            _ => {
                self.release_held(&mut effect);
                effect.push(byte);
            }
        }
        if !self.is_running(effect.guest) {
            // Nobody to type to: every guest is stopped.
            effect.len = 0;
        }
        effect
    }

    fn release_held(&mut self, effect: &mut InputEffect) {
        for _ in 0..core::mem::take(&mut self.held_escapes) {
            effect.push(ESCAPE_FOCUS);
        }
    }

    /// Moves the focus to the next running guest after it (itself if it is the only one
    /// running); `None` when no guest runs.
    pub(super) fn cycle_focus(&mut self) -> Option<Announcement> {
        let count = self.guests.len();
        let next = (1..=count)
            .map(|step| (self.focus + step) % count)
            .find(|&g| self.guests[g].running)?;
        self.focus = next;
        Some(self.announcement())
    }

    /// The announcement for the current focus.
    pub(super) fn announcement(&self) -> Announcement {
        Announcement {
            guest: self.focus,
            name: self.guests[self.focus].name,
        }
    }
}
