//! The guest's console: an Arm PrimeCell UART (PL011, DDI 0183) as the guest sees it.
//!
//! Modelling choices, each checked against Linux's `drivers/tty/serial/amba-pl011.c`:
//! - Transmit is immediate: a byte written to DR goes to the real console at once, so the TX
//!   FIFO is always empty (TXFE set; TXFF and BUSY clear) and TXRIS is asserted whenever TXE
//!   is set. Linux fills the FIFO from `start_tx` while TXFF is clear and unmasks TXIM only
//!   if bytes remain, then masks it again when its buffer is empty, so a level TX interrupt
//!   suits it (its own comment: TXIM "is a ready to transmit IRQ" that cannot be cleared).
//! - DR transmits when CR.TXE is set even if UARTEN is not: Linux's earlycon writes (a byte
//!   at a time with `writeb`) to a UART it assumes firmware enabled; TXE is set at reset.
//! - The PeriphID says revision 1 (the values QEMU and Linux expect); Linux derives a 16-byte
//!   FIFO from revision < 3, so the RX FIFO is 16 deep (1 when LCR_H.FEN is clear). Input
//!   beyond that waits in a backlog behind the FIFO instead of being lost (a paste into the
//!   console); FR.RXFF reports the FIFO full while it does.
//! - The receive-timeout interrupt (RTRIS) is asserted whenever the FIFO holds data: sluice
//!   has no character timer, and the guest drains the FIFO in its handler, which is what the
//!   timeout exists to make it do. RXRIS follows the IFLS trigger level. Both follow the
//!   FIFO level, so ICR cannot clear them while data remains (the timeout fires at once).
//! - The modem inputs CTS, DSR and DCD read as asserted (a null-modem link with the lines
//!   tied), so a tty opened without CLOCAL sees carrier; RI is clear. They never change, so
//!   the modem interrupts never fire.
//! - CR.LBE (loopback) sends DR writes to the RX FIFO instead of the console.
//! - Registers are 32-bit and word-aligned; any access width is accepted and sees the whole
//!   register (the caller truncates); unaligned or unknown offsets read 0 and ignore writes.
#![forbid(unsafe_code)]

use alloc::collections::VecDeque;

/// Size of the PL011 register frame.
pub const PL011_MMIO_SIZE: u64 = 0x1000;

/// Register offsets (DDI 0183, "Summary of registers").
mod reg {
    pub const DR: u64 = 0x000;
    pub const RSR_ECR: u64 = 0x004;
    pub const FR: u64 = 0x018;
    pub const ILPR: u64 = 0x020;
    pub const IBRD: u64 = 0x024;
    pub const FBRD: u64 = 0x028;
    pub const LCR_H: u64 = 0x02c;
    pub const CR: u64 = 0x030;
    pub const IFLS: u64 = 0x034;
    pub const IMSC: u64 = 0x038;
    pub const RIS: u64 = 0x03c;
    pub const MIS: u64 = 0x040;
    pub const ICR: u64 = 0x044;
    pub const DMACR: u64 = 0x048;
    /// UARTPeriphID0; PeriphID0..3 and PCellID0..3 follow, one per word, to 0xffc.
    pub const ID_FIRST: u64 = 0xfe0;
    pub const ID_LAST: u64 = 0xffc;
}

/// UARTFR bits.
mod fr {
    pub const CTS: u32 = 1 << 0;
    pub const DSR: u32 = 1 << 1;
    pub const DCD: u32 = 1 << 2;
    pub const RXFE: u32 = 1 << 4;
    pub const RXFF: u32 = 1 << 6;
    pub const TXFE: u32 = 1 << 7;
}

/// Interrupt bits, shared by IMSC, RIS, MIS and ICR.
mod int {
    pub const RX: u32 = 1 << 4;
    pub const TX: u32 = 1 << 5;
    pub const RT: u32 = 1 << 6;
    pub const OE: u32 = 1 << 10;
    /// RIM, CTSM, DCDM, DSRM, RX, TX, RT, FE, PE, BE, OE.
    pub const ALL: u32 = 0x7ff;
}

/// UARTCR bits.
mod cr {
    pub const LBE: u32 = 1 << 7;
    pub const TXE: u32 = 1 << 8;
    pub const RXE: u32 = 1 << 9;
    /// UARTEN, SIREN, SIRLP, LBE, TXE, RXE, DTR, RTS, Out1, Out2, RTSEn, CTSEn.
    pub const WRITABLE: u32 = 0xff87;
}

/// UARTLCR_H.FEN: FIFOs enabled.
const LCR_H_FEN: u32 = 1 << 4;
/// UARTRSR/ECR.OE: overrun.
const RSR_OE: u32 = 1 << 3;
/// CR and IFLS at reset: TXE | RXE; both trigger levels at half full.
const CR_RESET: u32 = cr::TXE | cr::RXE;
const IFLS_RESET: u32 = 0x12;

/// RX FIFO depth of the PL011 revision the PeriphID advertises.
const FIFO_DEPTH: usize = 16;
/// Input held behind the FIFO: a paste or fast typing must not be lost while the guest drains
/// the FIFO (a real UART would rely on the terminal's flow control instead).
const RX_BACKLOG_BYTES: usize = 4096;

/// UARTPeriphID0..3 (part 0x011, designer 0x41 'A', revision 1) and UARTPCellID0..3.
const IDS: [u32; 8] = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// Registers in a `Pl011::read_image`.
pub const IMAGE_REGISTERS: usize = 21;
/// The registers a read may find non-zero (ICR is write-only; the rest of the page reads 0).
const IMAGE_OFFSETS: [u64; IMAGE_REGISTERS] = [
    reg::DR,
    reg::RSR_ECR,
    reg::FR,
    reg::ILPR,
    reg::IBRD,
    reg::FBRD,
    reg::LCR_H,
    reg::CR,
    reg::IFLS,
    reg::IMSC,
    reg::RIS,
    reg::MIS,
    reg::DMACR,
    reg::ID_FIRST,
    reg::ID_FIRST + 4,
    reg::ID_FIRST + 8,
    reg::ID_FIRST + 12,
    reg::ID_FIRST + 16,
    reg::ID_FIRST + 20,
    reg::ID_FIRST + 24,
    reg::ID_LAST,
];

/// The outcome of `Pl011::quick_access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuickAccess {
    /// A read; the register's value.
    Read(u32),
    /// A write of DR; the byte for the real console, if the transmitter is enabled.
    Transmit(Option<u8>),
}

/// A PL011 register file plus its receive FIFO.
#[derive(Debug, Clone)]
pub struct Pl011 {
    /// Received bytes: the first `fifo_depth()` are the FIFO, the rest the backlog.
    rx: VecDeque<u8>,
    lcr_h: u32,
    cr: u32,
    ifls: u32,
    imsc: u32,
    ibrd: u32,
    fbrd: u32,
    ilpr: u32,
    dmacr: u32,
    /// Interrupt status bits that latch until ICR clears them (overrun).
    ris_latched: u32,
    /// Receive status (overrun) until a write to ECR clears it.
    rsr: u32,
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
            ris_latched: 0,
            rsr: 0,
        }
    }

    fn fifo_depth(&self) -> usize {
        if self.lcr_h & LCR_H_FEN != 0 {
            FIFO_DEPTH
        } else {
            1
        }
    }

    /// RX trigger level in bytes (IFLS.RXIFLSEL: 1/8, 1/4, 1/2, 3/4, 7/8; reserved = 7/8).
    fn rx_trigger(&self) -> usize {
        if self.lcr_h & LCR_H_FEN == 0 {
            return 1;
        }
        let eighths = match (self.ifls >> 3) & 7 {
            0 => 1,
            1 => 2,
            2 => 4,
            3 => 6,
            _ => 7,
        };
        FIFO_DEPTH * eighths / 8
    }

    fn raw_interrupts(&self) -> u32 {
        let mut ris = self.ris_latched;
        if !self.rx.is_empty() {
            ris |= int::RT;
        }
        if self.rx.len() >= self.rx_trigger() {
            ris |= int::RX;
        }
        if self.cr & cr::TXE != 0 {
            ris |= int::TX;
        }
        ris
    }

    fn flags(&self) -> u32 {
        let mut flags = fr::TXFE | fr::CTS | fr::DSR | fr::DCD;
        if self.rx.is_empty() {
            flags |= fr::RXFE;
        }
        if self.rx.len() >= self.fifo_depth() {
            flags |= fr::RXFF;
        }
        flags
    }

    fn id_register(offset: u64) -> u32 {
        let index = (offset - reg::ID_FIRST) / 4;
        IDS.get(index as usize).copied().unwrap_or(0)
    }

    /// A guest read of `offset`, any width; unknown or unaligned offsets read zero.
    pub fn read(&mut self, offset: u64, width_bytes: u8) -> u32 {
        if offset == reg::DR {
            return self.rx.pop_front().map_or(0, u32::from);
        }
        self.peek(offset, width_bytes)
    }

    /// What `read` returns, without its one side effect (a DR read takes a received byte).
    fn peek(&self, offset: u64, _width_bytes: u8) -> u32 {
        if !offset.is_multiple_of(4) {
            return 0;
        }
        match offset {
            reg::DR => self.rx.front().map_or(0, |&b| u32::from(b)),
            reg::RSR_ECR => self.rsr,
            reg::FR => self.flags(),
            reg::ILPR => self.ilpr,
            reg::IBRD => self.ibrd,
            reg::FBRD => self.fbrd,
            reg::LCR_H => self.lcr_h,
            reg::CR => self.cr,
            reg::IFLS => self.ifls,
            reg::IMSC => self.imsc,
            reg::RIS => self.raw_interrupts(),
            reg::MIS => self.raw_interrupts() & self.imsc,
            reg::DMACR => self.dmacr,
            reg::ID_FIRST..=reg::ID_LAST => Self::id_register(offset),
            _ => 0,
        }
    }

    /// A guest write of `value`, any width; returns the byte to send to the real console
    /// when the guest transmitted one. Unknown or unaligned offsets are ignored.
    pub fn write(&mut self, offset: u64, _width_bytes: u8, value: u32) -> Option<u8> {
        if !offset.is_multiple_of(4) {
            return None;
        }
        match offset {
            reg::DR => return self.transmit(value as u8),
            reg::RSR_ECR => self.rsr = 0,
            reg::ILPR => self.ilpr = value & 0xff,
            reg::IBRD => self.ibrd = value & 0xffff,
            reg::FBRD => self.fbrd = value & 0x3f,
            reg::LCR_H => self.lcr_h = value & 0xff,
            reg::CR => self.cr = value & cr::WRITABLE,
            reg::IFLS => self.ifls = value & 0x3f,
            reg::IMSC => self.imsc = value & int::ALL,
            reg::ICR => self.ris_latched &= !value,
            reg::DMACR => self.dmacr = value & 0x7,
            _ => {}
        }
        None
    }

    fn transmit(&mut self, byte: u8) -> Option<u8> {
        if self.cr & cr::LBE != 0 {
            self.receive(byte);
            return None;
        }
        (self.cr & cr::TXE != 0).then_some(byte)
    }

    fn receive(&mut self, byte: u8) -> bool {
        if self.rx.len() >= RX_BACKLOG_BYTES {
            self.ris_latched |= int::OE;
            self.rsr |= RSR_OE;
            return false;
        }
        self.rx.push_back(byte);
        true
    }

    /// Queues a byte typed on the console. The receiver accepts it even while CR.RXE is clear
    /// (it waits for the guest rather than being lost); false (byte dropped, overrun latched
    /// in RIS.OE and RSR.OE) when even the backlog behind the FIFO is full.
    pub fn push_rx(&mut self, byte: u8) -> bool {
        self.receive(byte)
    }

    /// The console's hot accesses, which cannot change the interrupt line: a read of FR, or a
    /// write of DR that is transmitted (not looped back). Performs the access and returns
    /// what `read` / `write` would have (the value read, or the byte to send to the console);
    /// None, with nothing done, for any other access, which goes through `read` / `write`
    /// and an update of the interrupt line.
    pub fn quick_access(&mut self, offset: u64, write: Option<u32>) -> Option<QuickAccess> {
        match (offset, write) {
            (reg::FR, None) => Some(QuickAccess::Read(self.flags())),
            (reg::DR, Some(value)) if self.cr & cr::LBE == 0 => {
                Some(QuickAccess::Transmit(self.transmit(value as u8)))
            }
            _ => None,
        }
    }

    /// What every read returns now, as (offset, value) for each register that reads other than
    /// zero, for a read-only page that answers the guest's reads without a trap: None while
    /// received bytes wait, as a DR read must then take one (reads must trap). Every other
    /// offset reads zero there; a narrower aligned read sees the low bytes, as from `read`.
    pub fn read_image(&self) -> Option<[(u64, u32); IMAGE_REGISTERS]> {
        if !self.rx.is_empty() {
            return None;
        }
        let mut image = [(0, 0); IMAGE_REGISTERS];
        for (slot, offset) in image.iter_mut().zip(IMAGE_OFFSETS) {
            *slot = (offset, self.peek(offset, 4));
        }
        Some(image)
    }

    /// The level of the UART's interrupt line (UARTINTR): RIS & IMSC != 0.
    pub fn irq_level(&self) -> bool {
        self.raw_interrupts() & self.imsc != 0
    }
}

#[cfg(test)]
mod tests;
