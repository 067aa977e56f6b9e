//! The physical PL011 that carries sluice's log and the guest's console.
//!
//! Its FIFOs are turned on (LCR_H.FEN), so that after one flag read that shows the transmit
//! FIFO empty a whole FIFO's worth of bytes goes out without another: the guest's boot console
//! passes through here byte by byte, and each device access costs an MMIO round trip.

use core::cell::Cell;
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_bitfields! {u32,
    FR [
        /// Transmit FIFO empty.
        TXFE OFFSET(7) NUMBITS(1) [],
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) [],
    ],
    LCR_H [
        /// FIFOs enabled.
        FEN OFFSET(4) NUMBITS(1) [],
    ],
    CR [
        /// UART enabled.
        UARTEN OFFSET(0) NUMBITS(1) [],
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
        (0x2c => lcr_h: ReadWrite<u32, LCR_H::Register>),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved3),
        (0x38 => imsc: ReadWrite<u32, IMSC::Register>),
        (0x3c => _reserved2),
        (0x44 => icr: WriteOnly<u32>),
        (0x48 => @END),
    }
}

/// Transmit FIFO depth of every PL011 revision (r1p5 has 32; 16 is the least).
const TX_FIFO_BYTES: u8 = 16;

/// The host's PL011 (already configured by firmware: sluice keeps its baud rate).
pub struct Pl011 {
    regs: &'static Pl011Registers,
    /// Bytes that may be written before the flags must be read again.
    tx_room: Cell<u8>,
    /// What an empty transmit FIFO holds: `TX_FIFO_BYTES`, or 1 if the FIFOs stayed off.
    tx_fifo_bytes: u8,
}

// SAFETY: the registers are plain MMIO with no thread affinity; sluice serialises every access
// through the console lock that owns this value.
unsafe impl Send for Pl011 {}

impl Pl011 {
    /// # Safety
    /// `base` must be the identity-mapped address of a PL011, used only through this value.
    pub unsafe fn new(base: usize) -> Self {
        // SAFETY: the caller guarantees a mapped PL011 at `base`, valid for 'static.
        let mut uart = Self {
            regs: unsafe { &*(base as *const Pl011Registers) },
            tx_room: Cell::new(0),
            tx_fifo_bytes: 1,
        };
        uart.enable_fifos();
        if uart.regs.lcr_h.is_set(LCR_H::FEN) {
            uart.tx_fifo_bytes = TX_FIFO_BYTES;
        }
        uart
    }

    /// Sets LCR_H.FEN if firmware left it clear, the way the PL011 manual asks (line idle,
    /// UART disabled while LCR_H changes); the baud rate and frame format stay.
    fn enable_fifos(&self) {
        if self.regs.lcr_h.is_set(LCR_H::FEN) {
            return;
        }
        while self.regs.fr.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
        let cr = self.regs.cr.get();
        self.regs.cr.modify(CR::UARTEN::CLEAR);
        self.regs.lcr_h.modify(LCR_H::FEN::SET);
        self.regs.cr.set(cr);
    }

    /// Sends one byte, waiting for room in the FIFO: the flags are read only when the bytes
    /// the last read allowed are used up (a FIFO's worth after TXFE, one after !TXFF).
    pub fn put_byte(&self, byte: u8) {
        if self.tx_room.get() == 0 {
            let room = loop {
                let fr = self.regs.fr.extract();
                if fr.is_set(FR::TXFE) {
                    break self.tx_fifo_bytes;
                }
                if !fr.is_set(FR::TXFF) {
                    break 1;
                }
                core::hint::spin_loop();
            };
            self.tx_room.set(room);
        }
        self.regs.dr.set(byte as u32);
        self.tx_room.set(self.tx_room.get() - 1);
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
