use super::*;

const SGI: u64 = GICR_SGI_BASE;

#[test]
fn a_random_clear_enable_is_undone_through_set_enable() {
    // Word 0 of GICR_ICENABLER0: clearing the timer PPI (27) and SGI 1, both enabled.
    let plan = plan_write(
        Target::Gicr,
        SGI + 0x180,
        Width::Word,
        Some(1 << 27 | 1 << 1),
        1 << 27 | 1 << 5,
    );
    let plan = plan.unwrap();
    assert_eq!(plan.value, 1 << 27 | 1 << 5);
    assert_eq!(
        plan.restore,
        Restore::Write {
            offset: SGI + 0x100,
            value: 1 << 27
        }
    );
}

#[test]
fn a_random_set_enable_is_undone_through_clear_enable_for_new_bits_only() {
    let plan = plan_write(Target::Gicd, 0x104, Width::Word, Some(0b0011), 0b0110).unwrap();
    assert_eq!(
        plan.restore,
        Restore::Write {
            offset: 0x184,
            value: 0b0100
        }
    );
}

#[test]
fn the_second_redistributor_restores_in_its_own_frame() {
    let at = GICR_STRIDE + SGI + 0x180;
    let plan = plan_write(Target::Gicr, at, Width::Word, Some(u64::from(u32::MAX)), 1).unwrap();
    assert_eq!(
        plan.restore,
        Restore::Write {
            offset: at - 0x80,
            value: 1
        }
    );
}

#[test]
fn set_pending_never_raises_an_sgi_that_was_not_pending() {
    let plan = plan_write(
        Target::Gicr,
        SGI + 0x200,
        Width::Word,
        Some(1 << 3),
        0xffff_ffff,
    )
    .unwrap();
    assert_eq!(plan.value, 0xffff_0000 | 1 << 3);
    assert_eq!(
        plan.restore,
        Restore::Write {
            offset: SGI + 0x280,
            value: 0xffff_0000
        }
    );
}

#[test]
fn a_byte_write_on_sgi_pending_bits_is_cleared_of_them() {
    let plan = plan_write(Target::Gicr, SGI + 0x201, Width::Byte, None, 0xff).unwrap();
    assert_eq!(plan.value, 0);
    let plan = plan_write(Target::Gicr, SGI + 0x1fc, Width::WordPair, None, u64::MAX).unwrap();
    assert_eq!(plan.value, 0xffff_0000_ffff_ffff);
    assert_eq!(plan.restore, Restore::Nothing);
}

#[test]
fn clear_active_never_touches_a_live_active_interrupt() {
    let plan = plan_write(Target::Gicd, 0x384, Width::Word, Some(0b1010), 0b1111).unwrap();
    assert_eq!(plan.value, 0b0101);
    assert_eq!(plan.restore, Restore::Nothing);
}

#[test]
fn plain_registers_are_written_back() {
    let plan = plan_write(Target::Gicd, 0x0, Width::Word, Some(0x13), 0).unwrap();
    assert_eq!(
        plan.restore,
        Restore::Write {
            offset: 0,
            value: 0x13
        }
    );
    let plan = plan_write(Target::EcamOwn, 0x4, Width::Half, Some(0x0406), 0xdead_beef).unwrap();
    assert_eq!(plan.value, 0xbeef);
    assert_eq!(
        plan.restore,
        Restore::Write {
            offset: 0x4,
            value: 0x0406
        }
    );
}

#[test]
fn a_faulted_read_means_nothing_to_write_back() {
    let plan = plan_write(Target::Msix, 0x10, Width::Double, None, 5).unwrap();
    assert_eq!(plan.restore, Restore::Nothing);
}

#[test]
fn the_uart_data_register_and_the_console_drivers_registers_are_never_written() {
    assert_eq!(
        plan_write(Target::Uart, 0x0, Width::Byte, Some(0), 0x41),
        None
    );
    assert_eq!(
        plan_write(Target::Uart, 0x2, Width::Half, Some(0), 0x41),
        None
    );
    for driver_owned in [0x24, 0x28, 0x2c, 0x30, 0x34, 0x38, 0x3a] {
        assert_eq!(
            plan_write(Target::Uart, driver_owned, Width::Word, Some(0x301), 0),
            None,
            "{driver_owned:#x}"
        );
    }
    let plan = plan_write(Target::Uart, 0x48, Width::Word, Some(0x3), 0).unwrap();
    assert_eq!(
        plan.restore,
        Restore::Write {
            offset: 0x48,
            value: 0x3
        }
    );
}

#[test]
fn commands_and_absent_targets_have_nothing_to_restore() {
    for (target, offset) in [
        (Target::Its, 0x1_0040),
        (Target::Gicr, 0xa0),
        (Target::EcamAbsent, 0x4),
        (Target::Stray, 0x10),
    ] {
        let plan = plan_write(target, offset, Width::Word, Some(7), 1).unwrap();
        assert_eq!(plan.restore, Restore::Nothing, "{target:?}");
    }
}

#[test]
fn offsets_stay_inside_the_region() {
    let mut rng = Rng::new(9);
    for _ in 0..10_000 {
        let width = Width::random(&mut rng);
        let off = pick_offset(&mut rng, Target::Uart, 0x1000, width);
        assert!(off + width.bytes() <= 0x1000);
        let off = pick_offset(&mut rng, Target::Gicr, 2 * GICR_STRIDE, width);
        assert!(off + width.bytes() <= 2 * GICR_STRIDE);
    }
}

#[test]
fn both_redistributors_and_both_frames_get_accesses() {
    let mut rng = Rng::new(11);
    let mut seen = [false; 4];
    for _ in 0..1000 {
        let off = pick_offset(&mut rng, Target::Gicr, 2 * GICR_STRIDE, Width::Word);
        seen[(off / GICR_SGI_BASE) as usize] = true;
    }
    assert_eq!(seen, [true; 4]);
}

#[test]
fn some_offsets_are_misaligned() {
    let mut rng = Rng::new(5);
    let misaligned = (0..1000)
        .filter(|_| !pick_offset(&mut rng, Target::Gicd, 0x1_0000, Width::Word).is_multiple_of(4))
        .count();
    assert!(misaligned > 100 && misaligned < 400, "{misaligned}");
}
