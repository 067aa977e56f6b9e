//! The guest's console: an Arm PrimeCell PL011 (DDI 0183) as the guest sees it.
//!
//! Transmit is immediate: every byte written to DR goes to the real console at once, so the
//! transmit FIFO is always empty (TXFE set, TXFF clear) and the TX interrupt is asserted
//! whenever it is unmasked, as a real PL011 with an empty FIFO would. Receive has a 32-entry
//! FIFO (1 entry when FIFOs are disabled); the receive-timeout interrupt is asserted whenever
//! the FIFO holds data, because sluice has no character timer: the guest drains the FIFO in
//! its handler, which is what the timeout exists to make it do.
#![forbid(unsafe_code)]

use alloc::collections::VecDeque;

/// Size of the PL011 register frame.
pub const PL011_MMIO_SIZE: u64 = 0x1000;

const DR: u64 = 0x000;
const RSR_ECR: u64 = 0x004;
const FR: u64 = 0x018;
const ILPR: u64 = 0x020;
const IBRD: u64 = 0x024;
const FBRD: u64 = 0x028;
const LCR_H: u64 = 0x02c;
const CR: u64 = 0x030;
const IFLS: u64 = 0x034;
const IMSC: u64 = 0x038;
const RIS: u64 = 0x03c;
const MIS: u64 = 0x040;
const ICR: u64 = 0x044;
const DMACR: u64 = 0x048;
const ID_START: u64 = 0xfe0;

const FR_TXFE: u32 = 1 << 7;
const FR_RXFF: u32 = 1 << 6;
const FR_RXFE: u32 = 1 << 4;
const INT_RT: u32 = 1 << 6;
const INT_TX: u32 = 1 << 5;
const INT_RX: u32 = 1 << 4;
/// Interrupt bits the guest can mask or clear (OE, BE, PE, FE, RT, TX, RX and modem lines).
const INT_ALL: u32 = 0x7ff;
const LCR_H_FEN: u32 = 1 << 4;
const CR_TXE: u32 = 1 << 8;
const CR_RESET: u32 = 0x300;
const IFLS_RESET: u32 = 0x12;
const FIFO_DEPTH: usize = 32;
/// Input held behind the FIFO: a paste or fast typing must not be lost while the guest drains
/// the FIFO (a real UART would rely on the terminal's flow control instead).
const RX_BACKLOG_BYTES: usize = 4096;

/// PrimeCell peripheral and cell IDs (0xfe0..0xffc): PL011 r1p5, which Linux's AMBA bus matches.
const IDS: [u32; 8] = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// A PL011 register file plus its receive FIFO.
#[derive(Debug, Clone)]
pub struct Pl011 {
    rx: VecDeque<u8>,
    lcr_h: u32,
    cr: u32,
    ifls: u32,
    imsc: u32,
    ibrd: u32,
    fbrd: u32,
    ilpr: u32,
    dmacr: u32,
    /// Latched error bits (overrun) cleared by ICR.
    latched: u32,
}

impl Default for Pl011 {
    fn default() -> Self {
        Self::new()
    }
}

impl Pl011 {
    /// A PL011 in its reset state.
    pub fn new() -> Self {
        Self {
            rx: VecDeque::with_capacity(FIFO_DEPTH),
            lcr_h: 0,
            cr: CR_RESET,
            ifls: IFLS_RESET,
            imsc: 0,
            ibrd: 0,
            fbrd: 0,
            ilpr: 0,
            dmacr: 0,
            latched: 0,
        }
    }

    fn fifo_depth(&self) -> usize {
        if self.lcr_h & LCR_H_FEN != 0 {
            FIFO_DEPTH
        } else {
            1
        }
    }

    fn rx_trigger(&self) -> usize {
        if self.lcr_h & LCR_H_FEN == 0 {
            return 1;
        }
        match (self.ifls >> 3) & 7 {
            0 => 4,
            1 => 8,
            2 => 16,
            3 => 24,
            _ => 28,
        }
    }

    fn raw_interrupts(&self) -> u32 {
        let mut ris = self.latched;
        if !self.rx.is_empty() {
            ris |= INT_RT;
        }
        if self.rx.len() >= self.rx_trigger() {
            ris |= INT_RX;
        }
        if self.cr & CR_TXE != 0 {
            ris |= INT_TX;
        }
        ris
    }

    fn flags(&self) -> u32 {
        let mut fr = FR_TXFE;
        if self.rx.is_empty() {
            fr |= FR_RXFE;
        }
        if self.rx.len() >= self.fifo_depth() {
            fr |= FR_RXFF;
        }
        fr
    }

    /// A guest read of `offset`; unknown offsets read zero.
    pub fn read(&mut self, offset: u64, _width_bytes: u8) -> u32 {
        match offset {
            DR => self.rx.pop_front().map_or(0, u32::from),
            RSR_ECR => 0,
            FR => self.flags(),
            ILPR => self.ilpr,
            IBRD => self.ibrd,
            FBRD => self.fbrd,
            LCR_H => self.lcr_h,
            CR => self.cr,
            IFLS => self.ifls,
            IMSC => self.imsc,
            RIS => self.raw_interrupts(),
            MIS => self.raw_interrupts() & self.imsc,
            DMACR => self.dmacr,
            ID_START..=0xffc if offset.is_multiple_of(4) => IDS[((offset - ID_START) / 4) as usize],
            _ => 0,
        }
    }

    /// A guest write; returns the byte to transmit when the guest wrote DR with TX enabled.
    pub fn write(&mut self, offset: u64, _width_bytes: u8, value: u32) -> Option<u8> {
        match offset {
            // UARTEN is not required: Linux's earlycon writes to a UART it assumes firmware
            // enabled, and sluice's real UART is enabled.
            DR if self.cr & CR_TXE != 0 => return Some(value as u8),
            RSR_ECR => self.latched = 0,
            ILPR => self.ilpr = value & 0xff,
            IBRD => self.ibrd = value & 0xffff,
            FBRD => self.fbrd = value & 0x3f,
            LCR_H => self.set_lcr_h(value & 0xff),
            CR => self.cr = value & 0xff87,
            IFLS => self.ifls = value & 0x3f,
            IMSC => self.imsc = value & INT_ALL,
            ICR => self.latched &= !value,
            DMACR => self.dmacr = value & 0x7,
            _ => {}
        }
        None
    }

    fn set_lcr_h(&mut self, value: u32) {
        // Changing FEN flushes the FIFOs on real hardware.
        if (value ^ self.lcr_h) & LCR_H_FEN != 0 {
            self.rx.clear();
        }
        self.lcr_h = value;
    }

    /// Queues a byte typed on the console (the FIFO shows at most its depth; the rest waits
    /// behind it); false (byte dropped, overrun latched) when even the backlog is full.
    pub fn push_rx(&mut self, byte: u8) -> bool {
        if self.rx.len() >= RX_BACKLOG_BYTES {
            self.latched |= 1 << 10;
            return false;
        }
        self.rx.push_back(byte);
        true
    }

    /// The level of the UART's interrupt line.
    pub fn irq_level(&self) -> bool {
        self.raw_interrupts() & self.imsc != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled_with_fifo() -> Pl011 {
        let mut u = Pl011::new();
        u.write(LCR_H, 4, LCR_H_FEN | 0x60);
        u.write(CR, 4, 0x301);
        u
    }

    #[test]
    fn primecell_ids_match_a_pl011() {
        let mut u = Pl011::new();
        let ids: Vec<u32> = (0..8).map(|i| u.read(0xfe0 + 4 * i, 4)).collect();
        assert_eq!(ids, IDS);
    }

    #[test]
    fn writes_to_dr_are_transmitted_at_once_and_the_fifo_stays_empty() {
        let mut u = enabled_with_fifo();
        assert_eq!(u.write(DR, 4, 0x41), Some(b'A'));
        assert_eq!(u.read(FR, 4) & (FR_TXFE | (1 << 5)), FR_TXFE);
        u.write(CR, 4, 0);
        assert_eq!(u.write(DR, 4, 0x41), None);
    }

    #[test]
    fn received_bytes_raise_the_timeout_interrupt_until_drained() {
        let mut u = enabled_with_fifo();
        u.write(IMSC, 4, INT_RX | INT_RT);
        assert!(!u.irq_level());
        assert!(u.push_rx(b'x'));
        assert!(u.irq_level());
        assert_eq!(u.read(MIS, 4), INT_RT);
        assert_eq!(u.read(FR, 4) & FR_RXFE, 0);
        assert_eq!(u.read(DR, 4), u32::from(b'x'));
        assert!(!u.irq_level());
        assert_ne!(u.read(FR, 4) & FR_RXFE, 0);
    }

    #[test]
    fn rx_interrupt_follows_the_fifo_trigger_level() {
        let mut u = enabled_with_fifo(); // IFLS reset: half full = 16
        for _ in 0..15 {
            u.push_rx(b'a');
        }
        assert_eq!(u.read(RIS, 4) & INT_RX, 0);
        u.push_rx(b'a');
        assert_ne!(u.read(RIS, 4) & INT_RX, 0);
    }

    #[test]
    fn input_beyond_the_fifo_waits_behind_it_in_order() {
        let mut u = Pl011::new(); // FIFO disabled: one entry visible
        assert!(u.push_rx(b'1'));
        assert!(u.push_rx(b'2'));
        assert_ne!(u.read(FR, 4) & FR_RXFF, 0);
        assert_eq!(u.read(DR, 4), u32::from(b'1'));
        assert_eq!(u.read(DR, 4), u32::from(b'2'));
        assert_ne!(u.read(FR, 4) & FR_RXFE, 0);
    }

    #[test]
    fn a_full_backlog_drops_input_and_latches_overrun_until_cleared() {
        let mut u = Pl011::new();
        for _ in 0..RX_BACKLOG_BYTES {
            assert!(u.push_rx(b'1'));
        }
        assert!(!u.push_rx(b'2'));
        assert_ne!(u.read(RIS, 4) & (1 << 10), 0);
        u.write(ICR, 4, INT_ALL);
        assert_eq!(u.read(RIS, 4) & (1 << 10), 0);
    }

    #[test]
    fn tx_interrupt_is_pending_while_enabled_so_the_driver_can_refill() {
        let mut u = enabled_with_fifo();
        u.write(IMSC, 4, INT_TX);
        assert!(u.irq_level());
        u.write(IMSC, 4, 0);
        assert!(!u.irq_level());
    }

    #[test]
    fn unknown_offsets_read_zero_and_ignore_writes() {
        let mut u = Pl011::new();
        assert_eq!(u.write(0x800, 1, 0xff), None);
        assert_eq!(u.read(0x800, 1), 0);
        assert_eq!(u.read(0xfe1, 1), 0);
    }
}
