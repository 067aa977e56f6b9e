//! The physical PL011 that carries sluice's log and the guest's console.

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_bitfields! {u32,
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) [],
    ],
    IMSC [
        /// Receive timeout interrupt mask.
        RTIM OFFSET(6) NUMBITS(1) [],
        /// Receive interrupt mask.
        RXIM OFFSET(4) NUMBITS(1) [],
    ]
}

register_structs! {
    Pl011Registers {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x38 => imsc: ReadWrite<u32, IMSC::Register>),
        (0x3c => _reserved2),
        (0x44 => icr: WriteOnly<u32>),
        (0x48 => @END),
    }
}

/// The host's PL011 (already configured by firmware: sluice keeps its baud rate).
pub struct Pl011 {
    regs: &'static Pl011Registers,
}

// SAFETY: the registers are plain MMIO with no thread affinity; sluice serialises every access
// through the console lock that owns this value.
unsafe impl Send for Pl011 {}

impl Pl011 {
    /// # Safety
    /// `base` must be the identity-mapped address of a PL011, used only through this value.
    pub unsafe fn new(base: usize) -> Self {
        // SAFETY: the caller guarantees a mapped PL011 at `base`, valid for 'static.
        Self {
            regs: unsafe { &*(base as *const Pl011Registers) },
        }
    }

    /// Sends one byte, waiting for room in the FIFO.
    pub fn put_byte(&self, byte: u8) {
        while self.regs.fr.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        self.regs.dr.set(byte as u32);
    }

    /// Takes one received byte, if any.
    pub fn get_byte(&self) -> Option<u8> {
        if self.regs.fr.is_set(FR::RXFE) {
            None
        } else {
            Some(self.regs.dr.get() as u8)
        }
    }

    /// Raises the UART's interrupt when input arrives (receive and receive-timeout).
    pub fn enable_rx_interrupt(&self) {
        self.regs.icr.set(0x7ff);
        self.regs.imsc.write(IMSC::RXIM::SET + IMSC::RTIM::SET);
    }
}
