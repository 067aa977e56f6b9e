use super::tests::{three, two, typed, Rng, CTRL_A};
use super::*;
use alloc::string::String;
use alloc::vec;

#[test]
fn focus_cycles_with_ctrl_a_three_times() {
    let mut mux = three();
    assert_eq!(mux.focus(), 0);
    let mut moves = Vec::new();
    for _ in 0..3 {
        let (delivered, commands) = typed(&mut mux, &[CTRL_A; 3]);
        assert!(delivered.is_empty());
        moves.extend(commands);
    }
    let names: Vec<String> = moves
        .iter()
        .map(|c| match c {
            Command::FocusMoved(a) => format!("{}={}", a.guest, a.name),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["1=b", "2=c", "0=a"]);
}

#[test]
fn the_announcement_reads_as_documented() {
    let mut mux = two();
    let (_, commands) = typed(&mut mux, &[CTRL_A; 3]);
    let [Command::FocusMoved(a)] = commands[..] else {
        panic!("{commands:?}");
    };
    assert_eq!(
        format!("{a}"),
        "console input now goes to guest net1 (Ctrl-A three times switches)"
    );
}

#[test]
fn ctrl_a_ctrl_a_x_reaches_the_guest_as_typed() {
    let mut mux = two();
    let (delivered, commands) = typed(&mut mux, &[CTRL_A, CTRL_A, b'x']);
    assert_eq!(delivered, [(0, vec![CTRL_A, CTRL_A, b'x'])]);
    assert!(commands.is_empty());
    assert_eq!(mux.focus(), 0);
}

#[test]
fn a_single_ctrl_a_is_held_until_the_next_byte_then_delivered() {
    let mut mux = two();
    assert_eq!(mux.input(CTRL_A).delivery(), None);
    let effect = mux.input(b'e');
    assert_eq!(effect.delivery(), Some((0, &[CTRL_A, b'e'][..])));
}

#[test]
fn four_ctrl_a_switch_once_and_the_fourth_goes_to_the_new_focus() {
    let mut mux = two();
    let (delivered, commands) = typed(&mut mux, &[CTRL_A, CTRL_A, CTRL_A, CTRL_A, b'k']);
    assert_eq!(delivered, [(1, vec![CTRL_A, b'k'])]);
    assert_eq!(commands.len(), 1);
}

#[test]
fn with_one_guest_ctrl_a_reaches_the_guest_at_once() {
    let mut mux = ConsoleMux::new(&["guest"]).unwrap();
    for _ in 0..4 {
        let effect = mux.input(CTRL_A);
        assert_eq!(effect.delivery(), Some((0, &[CTRL_A][..])));
        assert_eq!(effect.command, None);
    }
}

#[test]
fn ctrl_backslash_still_shows_the_exit_table_and_never_reaches_a_guest() {
    for mut mux in [ConsoleMux::new(&["guest"]).unwrap(), two()] {
        let effect = mux.input(ESCAPE_EXIT_TABLE);
        assert_eq!(effect.delivery(), None);
        assert_eq!(effect.command, Some(Command::ShowExitTable));
    }
}

#[test]
fn ctrl_a_typed_before_ctrl_backslash_is_delivered_first() {
    let mut mux = two();
    mux.input(CTRL_A);
    let effect = mux.input(ESCAPE_EXIT_TABLE);
    assert_eq!(effect.delivery(), Some((0, &[CTRL_A][..])));
    assert_eq!(effect.command, Some(Command::ShowExitTable));
    let (_, commands) = typed(&mut mux, &[CTRL_A, CTRL_A]);
    assert!(commands.is_empty(), "the count started again");
}

#[test]
fn focus_skips_stopped_guests() {
    let mut mux = three();
    let (_, moved) = mux.stop(1);
    assert_eq!(moved, None);
    typed(&mut mux, &[CTRL_A; 3]);
    assert_eq!(mux.focus(), 2);
    typed(&mut mux, &[CTRL_A; 3]);
    assert_eq!(mux.focus(), 0);
}

#[test]
fn a_stopped_focused_guest_hands_the_focus_to_the_next_running_one() {
    let mut mux = three();
    mux.stop(1);
    let (_, moved) = mux.stop(0);
    assert_eq!(moved.map(|a| a.guest), Some(2));
    let (delivered, _) = typed(&mut mux, b"ls\r");
    assert_eq!(delivered, [(2, b"ls\r".to_vec())]);
    let (_, commands) = typed(&mut mux, &[CTRL_A; 3]);
    assert!(matches!(commands[..], [Command::FocusMoved(a)] if a.guest == 2));
}

#[test]
fn input_is_dropped_while_no_guest_runs_and_the_next_started_guest_gets_the_focus() {
    let mut mux = two();
    mux.stop(0);
    mux.stop(1);
    let (delivered, commands) = typed(&mut mux, &[b'a', CTRL_A, CTRL_A, CTRL_A, b'b']);
    assert!(delivered.is_empty() && commands.is_empty());
    assert_eq!(mux.start(0).map(|a| a.guest), Some(0));
    assert_eq!(mux.start(1), None, "net0 has it");
    assert_eq!(typed(&mut mux, b"c").0, [(0, b"c".to_vec())]);
}

#[test]
fn names_are_checked() {
    assert_eq!(ConsoleMux::new(&[]).err(), Some(Error::NoGuests));
    for bad in [
        "",
        "has space",
        "seventeen-letters",
        "a2345678901234567",
        "caf\u{e9}",
        "tab\there",
    ] {
        assert_eq!(ConsoleMux::new(&[bad]).err(), Some(Error::BadName), "{bad}");
    }
    assert_eq!(
        ConsoleMux::new(&["x", "x"]).err(),
        Some(Error::DuplicateName)
    );
    let mux = ConsoleMux::new(&["net0", "guest@1", "a234567890123456"]).unwrap();
    assert_eq!(mux.name(1).unwrap().as_str(), "guest@1");
    assert_eq!(mux.name(3), None);
}

#[test]
fn an_unknown_guest_index_writes_nothing_and_panics_nowhere() {
    let mut mux = two();
    assert!(mux.output(7, b'x').is_empty());
    assert_eq!(mux.stop(7).1, None);
    assert_eq!(mux.start(7), None);
}

/// What the typed bytes are meant to deliver, worked out run by run: a run of k Ctrl-As moves
/// the focus k / 3 times and gives the guest k % 3 of them; Ctrl-\ is sluice's.
fn meant_for_guests(typed: &[u8]) -> (Vec<u8>, usize) {
    let (mut bytes, mut moves, mut run) = (Vec::new(), 0, 0);
    for &b in typed.iter().chain([&b'.']) {
        if b == CTRL_A {
            run += 1;
            continue;
        }
        moves += run / 3;
        bytes.extend(core::iter::repeat_n(CTRL_A, run % 3));
        run = 0;
        if b != ESCAPE_EXIT_TABLE {
            bytes.push(b);
        }
    }
    bytes.pop();
    (bytes, moves)
}

#[test]
fn no_input_sequence_loses_or_duplicates_a_byte_meant_for_a_guest() {
    let mut rng = Rng(0x5eed_c0de_2026_1127);
    let mut all_moves = 0;
    for _ in 0..300 {
        let mut mux = ConsoleMux::new(&["a", "b", "c", "d"]).unwrap();
        let (mut typed_bytes, mut delivered, mut moves, mut focus) = (Vec::new(), Vec::new(), 0, 0);
        for _ in 0..400 {
            if rng.below(40) == 0 {
                let g = rng.below(4);
                let running = (0..4).filter(|&g| mux.is_running(g)).count();
                if mux.is_running(g) && running > 1 {
                    if let (_, Some(a)) = mux.stop(g) {
                        focus = a.guest;
                    }
                } else if let Some(a) = mux.start(g) {
                    focus = a.guest;
                }
                continue;
            }
            let byte = [CTRL_A, CTRL_A, CTRL_A, ESCAPE_EXIT_TABLE, b'x', b'\r', 0x1b][rng.below(7)];
            typed_bytes.push(byte);
            let effect = mux.input(byte);
            if let Some((guest, bytes)) = effect.delivery() {
                assert_eq!(guest, focus, "only the focus receives input");
                assert!(mux.is_running(guest));
                delivered.extend_from_slice(bytes);
            }
            match effect.command {
                Some(Command::FocusMoved(a)) => (moves, focus) = (moves + 1, a.guest),
                Some(Command::ShowExitTable) => assert_eq!(byte, ESCAPE_EXIT_TABLE),
                None => {}
            }
        }
        if let Some((_, bytes)) = mux.input(b'.').delivery() {
            delivered.extend_from_slice(bytes);
        }
        typed_bytes.push(b'.');
        assert_eq!((delivered, moves), meant_for_guests(&typed_bytes));
        all_moves += moves;
    }
    assert!(all_moves > 3000, "the escape was exercised ({all_moves})");
}
