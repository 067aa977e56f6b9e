use super::*;
use alloc::vec::Vec;

/// Linux reads and writes PL011 registers 16 bits wide unless told `reg-io-width = <4>`.
const W: u8 = 2;
const INT_FE_PE_BE: u32 = 0x380;
const CR_UARTEN: u32 = 1 << 0;
const CR_DTR_RTS: u32 = 0xc00;
const FR_TXFF: u32 = 1 << 5;
const FR_BUSY: u32 = 1 << 3;

fn enabled_with_fifo() -> Pl011 {
    let mut u = Pl011::new();
    u.write(reg::LCR_H, 4, LCR_H_FEN | 0x60);
    u.write(reg::CR, 4, CR_UARTEN | cr::TXE | cr::RXE);
    u
}

/// The Linux driver, reduced to its register accesses (drivers/tty/serial/amba-pl011.c).
struct LinuxDriver {
    /// `uap->im`.
    im: u32,
    /// The tty's transmit buffer.
    xmit: VecDeque<u8>,
    /// What reached the real console.
    console: Vec<u8>,
    /// What reached the tty layer.
    received: Vec<u8>,
}

impl LinuxDriver {
    /// pl011_register_port, pl011_set_termios (115200 8n1 at 24 MHz), pl011_startup and
    /// pl011_enable_interrupts, in that order.
    fn probe_and_open(u: &mut Pl011) -> Self {
        u.write(reg::IMSC, W, 0);
        u.write(reg::ICR, W, 0xffff);
        let old_cr = u.read(reg::CR, W);
        u.write(reg::FBRD, W, 833 & 0x3f);
        u.write(reg::IBRD, W, 833 >> 6);
        u.write(reg::LCR_H, W, LCR_H_FEN | 0x60);
        u.write(reg::CR, W, old_cr | cr::RXE);
        // pl011_hwinit, pl011_allocate_irq
        u.write(reg::ICR, W, int::OE | INT_FE_PE_BE | int::RT | int::RX);
        let im = u.read(reg::IMSC, W);
        u.write(reg::IMSC, W, int::RT | int::RX);
        u.write(reg::IMSC, W, im);
        u.write(reg::IFLS, W, 0x12);
        let cr = (u.read(reg::CR, W) & CR_DTR_RTS) | CR_UARTEN | cr::RXE | cr::TXE;
        u.write(reg::CR, W, cr);
        let _old_status = u.read(reg::FR, W) & 0x1ff;
        // pl011_enable_interrupts
        u.write(reg::ICR, W, int::RT | int::RX);
        for _ in 0..FIFO_DEPTH * 2 {
            if u.read(reg::FR, W) & fr::RXFE != 0 {
                break;
            }
            u.read(reg::DR, W);
        }
        u.write(reg::IMSC, W, int::RT | int::RX);
        Self {
            im: int::RT | int::RX,
            xmit: VecDeque::new(),
            console: Vec::new(),
            received: Vec::new(),
        }
    }

    fn stop_tx(&mut self, u: &mut Pl011) {
        self.im &= !int::TX;
        u.write(reg::IMSC, W, self.im);
    }

    /// pl011_tx_chars: true if the TX interrupt must stay enabled.
    fn tx_chars(&mut self, u: &mut Pl011, from_irq: bool) -> bool {
        let mut count = FIFO_DEPTH / 2;
        while let Some(&c) = self.xmit.front() {
            if from_irq && count == 0 {
                break;
            }
            count = count.saturating_sub(1);
            if !from_irq && u.read(reg::FR, W) & FR_TXFF != 0 {
                break;
            }
            self.console.extend(u.write(reg::DR, W, u32::from(c)));
            self.xmit.pop_front();
        }
        if self.xmit.is_empty() {
            self.stop_tx(u);
            return false;
        }
        true
    }

    /// pl011_start_tx_pio.
    fn start_tx(&mut self, u: &mut Pl011, bytes: &[u8]) {
        self.xmit.extend(bytes);
        if self.tx_chars(u, false) {
            self.im |= int::TX;
            u.write(reg::IMSC, W, self.im);
        }
    }

    /// pl011_int; returns the number of passes it took.
    fn interrupt(&mut self, u: &mut Pl011) -> usize {
        let mut passes = 0;
        let mut status = u.read(reg::RIS, W) & self.im;
        while status != 0 {
            u.write(reg::ICR, W, status & !(int::TX | int::RT | int::RX));
            if status & (int::RT | int::RX) != 0 {
                for _ in 0..256 {
                    if u.read(reg::FR, W) & fr::RXFE != 0 {
                        break;
                    }
                    self.received.push(u.read(reg::DR, W) as u8);
                }
            }
            if status & int::TX != 0 {
                self.tx_chars(u, true);
            }
            passes += 1;
            assert!(passes <= 256, "pl011_int would give up: {status:#x}");
            status = u.read(reg::RIS, W) & self.im;
        }
        passes
    }
}

#[test]
fn primecell_ids_match_linux_pl011_driver_as_revision_1_with_a_16_byte_fifo() {
    let mut u = Pl011::new();
    let ids: Vec<u32> = (0..8).map(|i| u.read(0xfe0 + 4 * i, 4)).collect();
    assert_eq!(ids, IDS);
    let periphid = ids[..4]
        .iter()
        .enumerate()
        .fold(0u32, |id, (i, b)| id | (b & 0xff) << (8 * i));
    assert_eq!(periphid & 0x000f_ffff, 0x0004_1011); // pl011_ids[0] with its mask
    let revision = (periphid >> 20) & 0xf;
    assert_eq!(if revision < 3 { 16 } else { 32 }, FIFO_DEPTH); // get_fifosize_arm
    let cellid = ids[4..].iter().rev().fold(0u32, |id, b| id << 8 | b);
    assert_eq!(cellid, 0xb105_f00d);
}

#[test]
fn writes_to_dr_are_transmitted_at_once_and_the_fifo_stays_empty() {
    let mut u = enabled_with_fifo();
    assert_eq!(u.write(reg::DR, 4, 0x41), Some(b'A'));
    let flags = u.read(reg::FR, 4);
    assert_eq!(flags & (fr::TXFE | FR_TXFF | FR_BUSY), fr::TXFE);
    u.write(reg::CR, 4, CR_UARTEN);
    assert_eq!(u.write(reg::DR, 4, 0x41), None);
}

#[test]
fn earlycon_byte_writes_go_out_before_the_driver_enables_the_uart() {
    let mut u = Pl011::new(); // reset: TXE set, UARTEN clear
    assert_eq!(u.read(reg::FR, 4) & FR_TXFF, 0);
    assert_eq!(u.write(reg::DR, 1, 0x1_0a), Some(b'\n'));
    assert_eq!(u.read(reg::FR, 4) & FR_BUSY, 0);
}

#[test]
fn loopback_sends_transmitted_bytes_to_the_receiver_not_the_console() {
    let mut u = enabled_with_fifo();
    u.write(reg::CR, 4, CR_UARTEN | cr::TXE | cr::RXE | cr::LBE);
    assert_eq!(u.write(reg::DR, 4, u32::from(b'z')), None);
    assert_eq!(u.read(reg::DR, 4), u32::from(b'z'));
}

#[test]
fn modem_inputs_read_as_asserted_carrier() {
    let mut u = Pl011::new();
    assert_eq!(u.read(reg::FR, 4) & 0x107, fr::CTS | fr::DSR | fr::DCD);
}

#[test]
fn received_bytes_raise_the_timeout_interrupt_until_drained() {
    let mut u = enabled_with_fifo();
    u.write(reg::IMSC, 4, int::RX | int::RT);
    assert!(!u.irq_level());
    assert!(u.push_rx(b'x'));
    assert!(u.irq_level());
    assert_eq!(u.read(reg::MIS, 4), int::RT);
    assert_eq!(u.read(reg::FR, 4) & fr::RXFE, 0);
    assert_eq!(u.read(reg::DR, 4), u32::from(b'x'));
    assert!(!u.irq_level());
    assert_ne!(u.read(reg::FR, 4) & fr::RXFE, 0);
}

#[test]
fn rx_interrupt_follows_the_fifo_trigger_level() {
    let mut u = enabled_with_fifo(); // IFLS reset: half full = 8 of 16
    for _ in 0..7 {
        u.push_rx(b'a');
    }
    assert_eq!(u.read(reg::RIS, 4) & int::RX, 0);
    u.push_rx(b'a');
    assert_ne!(u.read(reg::RIS, 4) & int::RX, 0);
    u.write(reg::IFLS, 4, 4 << 3); // 7/8 = 14
    assert_eq!(u.read(reg::RIS, 4) & int::RX, 0);
}

#[test]
fn input_beyond_the_fifo_waits_behind_it_in_order() {
    let mut u = Pl011::new(); // FIFO disabled: one entry visible
    assert!(u.push_rx(b'1'));
    assert!(u.push_rx(b'2'));
    assert_ne!(u.read(reg::FR, 4) & fr::RXFF, 0);
    assert_ne!(u.read(reg::RIS, 4) & int::RX, 0); // trigger level is 1 without FIFO
    assert_eq!(u.read(reg::DR, 4), u32::from(b'1'));
    assert_eq!(u.read(reg::DR, 4), u32::from(b'2'));
    assert_ne!(u.read(reg::FR, 4) & fr::RXFE, 0);
    assert_eq!(u.read(reg::DR, 4), 0);
}

#[test]
fn a_full_backlog_drops_input_and_latches_overrun_until_cleared() {
    let mut u = Pl011::new();
    for _ in 0..RX_BACKLOG_BYTES {
        assert!(u.push_rx(b'1'));
    }
    assert!(!u.push_rx(b'2'));
    assert_ne!(u.read(reg::RIS, 4) & int::OE, 0);
    assert_eq!(u.read(reg::RSR_ECR, 4), RSR_OE);
    u.write(reg::ICR, 4, int::ALL);
    assert_eq!(u.read(reg::RIS, 4) & int::OE, 0);
    assert_eq!(u.read(reg::RSR_ECR, 4), RSR_OE); // RSR is cleared by ECR, not ICR
    u.write(reg::RSR_ECR, 4, 0);
    assert_eq!(u.read(reg::RSR_ECR, 4), 0);
}

#[test]
fn tx_interrupt_is_pending_while_enabled_so_the_driver_can_refill() {
    let mut u = enabled_with_fifo();
    u.write(reg::IMSC, 4, int::TX);
    assert!(u.irq_level());
    u.write(reg::IMSC, 4, 0);
    assert!(!u.irq_level());
}

#[test]
fn registers_keep_only_their_defined_bits() {
    let mut u = Pl011::new();
    for (offset, mask) in [
        (reg::ILPR, 0xff),
        (reg::IBRD, 0xffff),
        (reg::FBRD, 0x3f),
        (reg::LCR_H, 0xff),
        (reg::CR, 0xff87),
        (reg::IFLS, 0x3f),
        (reg::IMSC, 0x7ff),
        (reg::DMACR, 0x7),
    ] {
        u.write(offset, 4, u32::MAX);
        assert_eq!(u.read(offset, 4), mask, "{offset:#x}");
    }
}

#[test]
fn linux_open_leaves_the_line_quiet_until_input_arrives() {
    let mut u = Pl011::new();
    u.push_rx(b'?'); // typed before the driver came up: drained by pl011_enable_interrupts
    let linux = LinuxDriver::probe_and_open(&mut u);
    assert_eq!(linux.im, int::RT | int::RX);
    assert_eq!(u.read(reg::IBRD, W), 13);
    assert!(!u.irq_level());
}

#[test]
fn linux_receives_typed_input_through_its_interrupt_handler() {
    let mut u = Pl011::new();
    let mut linux = LinuxDriver::probe_and_open(&mut u);
    let typed = b"root\nls -l /sys/bus/pci/devices\n";
    for &b in typed {
        assert!(u.push_rx(b));
    }
    assert!(u.irq_level());
    assert_eq!(linux.interrupt(&mut u), 1);
    assert_eq!(linux.received, typed);
    assert!(!u.irq_level());
}

#[test]
fn linux_transmits_from_start_tx_without_needing_the_tx_interrupt() {
    let mut u = Pl011::new();
    let mut linux = LinuxDriver::probe_and_open(&mut u);
    linux.start_tx(&mut u, b"login: ");
    assert_eq!(linux.console, b"login: ");
    assert_eq!(linux.im & int::TX, 0);
    assert!(!u.irq_level());
}

#[test]
fn linux_drains_a_long_buffer_through_the_tx_interrupt_and_then_masks_it() {
    let mut u = Pl011::new();
    let mut linux = LinuxDriver::probe_and_open(&mut u);
    let text: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
    linux.xmit.extend(&text);
    linux.im |= int::TX;
    u.write(reg::IMSC, W, linux.im);
    assert!(u.irq_level());
    let passes = linux.interrupt(&mut u);
    assert_eq!(passes, 100 / (FIFO_DEPTH / 2) + 1);
    assert_eq!(linux.console, text);
    assert!(!u.irq_level());
}

#[test]
fn linux_console_write_restores_the_control_register() {
    let mut u = Pl011::new();
    let _linux = LinuxDriver::probe_and_open(&mut u);
    let old_cr = u.read(reg::CR, W);
    u.write(reg::CR, W, old_cr | CR_UARTEN | cr::TXE);
    assert_eq!(u.write(reg::DR, W, u32::from(b'K')), Some(b'K'));
    assert_eq!(u.read(reg::FR, W) & FR_BUSY, 0);
    u.write(reg::CR, W, old_cr);
    assert_eq!(u.read(reg::CR, W), old_cr);
}

#[test]
fn no_offset_or_width_panics_and_unknown_or_unaligned_offsets_read_zero() {
    let mut u = enabled_with_fifo();
    for offset in (0..PL011_MMIO_SIZE + 8).chain([u64::MAX - 3, u64::MAX]) {
        for width in [0, 1, 2, 3, 4, 8, 16, 255] {
            let _ = u.read(offset, width);
            if offset != reg::DR {
                let _ = u.write(offset, width, u32::MAX);
            }
        }
    }
    let mut u = Pl011::new();
    assert_eq!(u.write(0x800, 1, 0xff), None);
    assert_eq!(u.read(0x800, 1), 0);
    assert_eq!(u.read(0xfe1, 1), 0);
    assert_eq!(u.read(reg::FR + 1, 1), 0);
    assert_eq!(u.write(reg::DR + 1, 1, 0x41), None);
    assert_eq!(u.read(0x1000, 4), 0);
}

#[test]
fn quick_access_reads_flags_and_transmits_as_the_general_path_does() {
    let mut quick = enabled_with_fifo();
    let mut general = enabled_with_fifo();
    for byte in [b'a', b'\n', 0xff] {
        assert_eq!(
            quick.quick_access(reg::FR, None),
            Some(QuickAccess::Read(general.read(reg::FR, 4)))
        );
        assert_eq!(
            quick.quick_access(reg::DR, Some(u32::from(byte) | 0x100)),
            Some(QuickAccess::Transmit(general.write(
                reg::DR,
                4,
                u32::from(byte) | 0x100
            )))
        );
    }
    quick.write(reg::CR, 4, CR_UARTEN);
    assert_eq!(
        quick.quick_access(reg::DR, Some(0x41)),
        Some(QuickAccess::Transmit(None))
    );
}

#[test]
fn quick_access_never_changes_the_interrupt_line() {
    let mut u = enabled_with_fifo();
    u.write(reg::IMSC, 4, int::TX | int::RX | int::RT);
    for typed in [0, 1, FIFO_DEPTH] {
        for _ in 0..typed {
            u.push_rx(b'x');
        }
        let level = u.irq_level();
        let ris = u.read(reg::RIS, 4);
        let _ = u.quick_access(reg::FR, None);
        let _ = u.quick_access(reg::DR, Some(0x41));
        assert_eq!(u.irq_level(), level);
        assert_eq!(u.read(reg::RIS, 4), ris);
    }
}

#[test]
fn quick_access_leaves_receive_loopback_and_other_registers_to_the_general_path() {
    let mut u = enabled_with_fifo();
    u.push_rx(b'x');
    assert_eq!(u.quick_access(reg::DR, None), None);
    assert_eq!(u.quick_access(reg::FR, Some(0)), None);
    assert_eq!(u.quick_access(reg::CR, None), None);
    assert_eq!(u.quick_access(reg::FR + 1, None), None);
    assert_eq!(u.read(reg::DR, 4), u32::from(b'x'));
    u.write(reg::CR, 4, CR_UARTEN | cr::TXE | cr::RXE | cr::LBE);
    assert_eq!(u.quick_access(reg::DR, Some(0x41)), None);
    assert_eq!(u.read(reg::FR, 4) & fr::RXFE, fr::RXFE);
}

/// Every aligned offset of the page, read through a copy of `u` (the copy takes the side
/// effects), against what `read_image` says the page holds.
fn assert_image_matches_reads(u: &Pl011) {
    let image = u.read_image().expect("no input waits");
    for offset in (0..PL011_MMIO_SIZE).step_by(4) {
        let in_image = image
            .iter()
            .find(|(o, _)| *o == offset)
            .map_or(0, |&(_, v)| v);
        for width in [1, 2, 4] {
            let read = u.clone().read(offset, width);
            assert_eq!(read, in_image, "offset {offset:#x} width {width}");
        }
    }
}

#[test]
fn the_read_image_answers_every_read_until_input_waits() {
    let mut u = Pl011::new();
    assert_image_matches_reads(&u);
    let mut linux = LinuxDriver::probe_and_open(&mut u);
    assert_image_matches_reads(&u);
    linux.start_tx(&mut u, &[b'x'; 40]);
    assert_image_matches_reads(&u);
    u.push_rx(b'a');
    assert!(u.read_image().is_none(), "a DR read must take the byte");
    linux.interrupt(&mut u);
    assert_eq!(linux.received, b"a");
    assert_image_matches_reads(&u);
}

#[test]
fn the_read_image_follows_every_register_write() {
    // A simple generator: every writable register gets many values, in a scrambled order.
    let mut u = Pl011::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let offset = u64::from(x % 0x50) & !3;
        u.write(offset, 4, x.rotate_left(7));
        if u.read_image().is_none() {
            while u.read(reg::DR, 4) != 0 || !u.rx.is_empty() {}
        }
        assert_image_matches_reads(&u);
    }
}
