use super::*;
use alloc::string::String;

/// The physical UART: everything written to it, as text.
#[derive(Default)]
struct Wire(Vec<u8>);

impl Wire {
    fn write(&mut self, out: Output) {
        self.0.extend_from_slice(out.as_bytes());
    }

    fn guest(&mut self, mux: &mut ConsoleMux, guest: usize, bytes: &[u8]) {
        for &b in bytes {
            self.write(mux.output(guest, b));
        }
    }

    /// A sluice line, written as `hyp::console::print_line` does.
    fn sluice(&mut self, mux: &mut ConsoleMux, text: &str) {
        self.write(mux.before_sluice_line());
        self.0.extend_from_slice(b"[sluice] ");
        self.0.extend_from_slice(text.as_bytes());
        self.0.extend_from_slice(CRLF);
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    fn take(&mut self) -> String {
        let text = self.text();
        self.0.clear();
        text
    }
}

pub(super) fn two() -> ConsoleMux {
    ConsoleMux::new(&["net0", "net1"]).unwrap()
}

pub(super) fn three() -> ConsoleMux {
    ConsoleMux::new(&["a", "b", "c"]).unwrap()
}

/// Types `bytes`; returns what each guest received and the commands, in order.
pub(super) fn typed(mux: &mut ConsoleMux, bytes: &[u8]) -> (Vec<(usize, Vec<u8>)>, Vec<Command>) {
    let mut delivered: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut commands = Vec::new();
    for &b in bytes {
        let effect = mux.input(b);
        if let Some((guest, bytes)) = effect.delivery() {
            match delivered.last_mut() {
                Some((g, v)) if *g == guest => v.extend_from_slice(bytes),
                _ => delivered.push((guest, bytes.to_vec())),
            }
        }
        commands.extend(effect.command);
    }
    (delivered, commands)
}

pub(super) const CTRL_A: u8 = ESCAPE_FOCUS;

#[test]
fn one_guest_output_is_passed_through_unchanged() {
    let mut mux = ConsoleMux::new(&["guest"]).unwrap();
    let mut wire = Wire::default();
    let text = b"[    0.000000] Booting Linux\r\n\x1b[1mbold\x1b[0m 10%\r20%\r\n# ";
    wire.guest(&mut mux, 0, text);
    assert_eq!(wire.0, text);
    let long = [b'x'; 3 * LINE_BYTES];
    wire.guest(&mut mux, 0, &long);
    assert_eq!(&wire.0[text.len()..], &long[..], "no cut with one guest");
}

#[test]
fn one_guest_mid_line_is_ended_with_crlf_alone_before_a_sluice_line() {
    let mut mux = ConsoleMux::new(&["guest"]).unwrap();
    let mut wire = Wire::default();
    wire.guest(&mut mux, 0, b"# ");
    wire.sluice(&mut mux, "guest powered off");
    wire.guest(&mut mux, 0, b"ls\r\n");
    wire.sluice(&mut mux, "at line start");
    assert_eq!(
        wire.text(),
        "# \r\n[sluice] guest powered off\r\nls\r\n[sluice] at line start\r\n"
    );
}

#[test]
fn with_two_guests_every_line_starts_with_its_guests_name() {
    let mut mux = two();
    let mut wire = Wire::default();
    wire.guest(&mut mux, 0, b"one\r\ntwo\r\n");
    wire.guest(&mut mux, 1, b"three\r\n\r\n");
    assert_eq!(
        wire.text(),
        "(net0) one\r\n(net0) two\r\n(net1) three\r\n(net1) \r\n"
    );
}

#[test]
fn the_focused_guest_is_echoed_byte_by_byte() {
    let mut mux = two();
    assert_eq!(mux.output(0, b'#').as_bytes(), b"(net0) #");
    assert_eq!(mux.output(0, b' ').as_bytes(), b" ");
    assert_eq!(mux.output(0, b'l').as_bytes(), b"l");
}

#[test]
fn a_background_guests_line_waits_for_its_newline_and_goes_out_whole() {
    let mut mux = two();
    for &b in b"eth0: link up\r" {
        assert!(mux.output(1, b).is_empty());
    }
    assert_eq!(mux.output(1, b'\n').as_bytes(), b"(net1) eth0: link up\r\n");
}

#[test]
fn two_guests_lines_never_interleave() {
    let mut mux = two();
    let mut wire = Wire::default();
    wire.guest(&mut mux, 0, b"# ping 10.0.");
    wire.guest(&mut mux, 1, b"[   40.1] e1000e: link up\r\n");
    wire.guest(&mut mux, 0, b"0.2\r\n");
    assert_eq!(
        wire.text(),
        "(net0) # ping 10.0. [...]\r\n\
         (net1) [   40.1] e1000e: link up\r\n\
         (net0) # ping 10.0.0.2\r\n"
    );
}

#[test]
fn sluice_lines_stay_unprefixed_and_cut_the_open_line() {
    let mut mux = two();
    let mut wire = Wire::default();
    wire.sluice(&mut mux, "2 guests");
    wire.guest(&mut mux, 0, b"login: ");
    wire.sluice(&mut mux, "guest net1 rebooting");
    assert_eq!(
        wire.take(),
        "[sluice] 2 guests\r\n(net0) login:  [...]\r\n[sluice] guest net1 rebooting\r\n"
    );
    wire.write(mux.resume());
    assert_eq!(wire.take(), "(net0) login: ");
    assert!(mux.resume().is_empty(), "already shown");
    wire.guest(&mut mux, 0, b"root\r\n");
    assert_eq!(wire.take(), "root\r\n");
}

#[test]
fn a_line_without_newline_is_cut_after_line_bytes_with_the_marker() {
    let mut mux = two();
    let full = [b'x'; LINE_BYTES];
    for &b in &full {
        assert!(mux.output(1, b).is_empty(), "held up to LINE_BYTES");
    }
    let out = mux.output(1, b'y');
    let mut expected = b"(net1) ".to_vec();
    expected.extend_from_slice(&full);
    expected.extend_from_slice(b" [...]\r\n");
    assert_eq!(out.as_bytes(), expected);
    assert_eq!(mux.output(1, b'\n').as_bytes(), b"(net1) y\n");
}

#[test]
fn the_newline_after_a_full_line_ends_it_without_a_cut() {
    let mut mux = two();
    let mut wire = Wire::default();
    let mut line = [b'z'; LINE_BYTES].to_vec();
    line[LINE_BYTES - 1] = b'\r';
    wire.guest(&mut mux, 1, &line);
    wire.guest(&mut mux, 1, b"\n");
    wire.guest(&mut mux, 0, &line);
    wire.guest(&mut mux, 0, b"\n");
    let text = wire.text();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 2);
    assert!(lines
        .iter()
        .all(|l| l.ends_with("z\r\n") && !l.contains("[...]")));
}

#[test]
fn the_focused_guests_long_line_goes_on_after_the_marker() {
    let mut mux = two();
    let mut wire = Wire::default();
    wire.guest(&mut mux, 0, &[b'q'; LINE_BYTES + 10]);
    let text = wire.text();
    let (first, rest) = text.split_once("\r\n").unwrap();
    assert_eq!(first.len(), "(net0) ".len() + LINE_BYTES + CUT_MARKER.len());
    assert_eq!(rest, format!("(net0) {}", "q".repeat(10)));
}

#[test]
fn a_guest_flooding_without_newlines_cannot_hold_back_others_or_grow_lines() {
    let mut mux = three();
    let mut wire = Wire::default();
    for round in 0..200 {
        wire.guest(&mut mux, 2, &[b'!'; 1000]);
        wire.guest(&mut mux, 1, format!("b{round}\r\n").as_bytes());
        wire.guest(&mut mux, 0, format!("a{round}").as_bytes());
        wire.guest(&mut mux, 2, b"\x1b[2J\r");
        wire.guest(&mut mux, 0, b"\r\n");
    }
    let text = wire.text();
    let longest = "(c) ".len() + LINE_BYTES + CUT_MARKER.len() + 2;
    for line in text.split_inclusive('\n') {
        assert!(line.len() <= longest, "{} bytes", line.len());
        assert!(line.starts_with("(a) ") || line.starts_with("(b) ") || line.starts_with("(c) "));
    }
    for round in 0..200 {
        assert!(text.contains(&format!("\n(a) a{round}\r\n")));
        assert!(text.contains(&format!("\n(b) b{round}\r\n")));
    }
    let flood = text.bytes().filter(|&b| b == b'!').count();
    assert!(
        flood > 200 * 1000 - LINE_BYTES,
        "the flood itself goes out too"
    );
}

#[test]
fn carriage_returns_and_ansi_sequences_pass_within_the_line() {
    let mut mux = two();
    let mut wire = Wire::default();
    wire.guest(&mut mux, 1, b"\x1b[32m OK \x1b[0m 10%\r50%\r\n");
    assert_eq!(wire.text(), "(net1) \x1b[32m OK \x1b[0m 10%\r50%\r\n");
}

#[test]
fn a_guest_that_lost_the_focus_mid_line_finishes_it_without_repeating() {
    let mut mux = two();
    let mut wire = Wire::default();
    wire.guest(&mut mux, 0, b"abc");
    typed(&mut mux, &[CTRL_A; 3]);
    assert_eq!(mux.focus(), 1);
    wire.guest(&mut mux, 0, b"def");
    wire.guest(&mut mux, 0, b"\r\n");
    assert_eq!(wire.text(), "(net0) abcdef\r\n");
}

#[test]
fn stopping_a_guest_sends_its_unfinished_line_cut() {
    let mut mux = two();
    let mut wire = Wire::default();
    wire.guest(&mut mux, 0, b"# ");
    wire.guest(&mut mux, 1, b"reboot: Power do");
    let (out, moved) = mux.stop(1);
    wire.write(out);
    assert_eq!(moved, None, "net1 did not have the focus");
    assert_eq!(
        wire.take(),
        "(net0) #  [...]\r\n(net1) reboot: Power do [...]\r\n"
    );
    wire.write(mux.resume());
    assert_eq!(wire.take(), "(net0) # ");
}

#[test]
fn a_rebooted_guest_starts_on_a_line_of_its_own_and_keeps_the_focus() {
    let mut mux = two();
    let mut wire = Wire::default();
    wire.guest(&mut mux, 0, b"# reboo");
    wire.guest(&mut mux, 1, b"half");
    wire.write(mux.restart(0));
    wire.write(mux.restart(1));
    wire.guest(&mut mux, 0, b"[    0.000000] Booting\r\n");
    assert_eq!(
        wire.text(),
        "(net0) # reboo [...]\r\n(net1) half [...]\r\n(net0) [    0.000000] Booting\r\n"
    );
    assert_eq!(mux.focus(), 0);
    let mut one = ConsoleMux::new(&["guest"]).unwrap();
    one.output(0, b'x');
    assert!(one.restart(0).is_empty(), "one guest: as before");
}

#[test]
fn the_output_capacity_covers_the_worst_case() {
    let long = ["a".repeat(NAME_MAX_BYTES), "b".repeat(NAME_MAX_BYTES)];
    let mut mux = ConsoleMux::new(&[&long[0], &long[1]]).unwrap();
    for _ in 0..LINE_BYTES {
        mux.output(1, b'x');
    }
    mux.output(0, b'y');
    typed(&mut mux, &[CTRL_A; 3]);
    let out = mux.output(1, b'z');
    assert_eq!(out.as_bytes().len(), OUTPUT_CAPACITY);
    assert!(out
        .as_bytes()
        .ends_with(format!("({}) z", long[1]).as_bytes()));
}

/// xorshift64: a reproducible stream of choices.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// The console as it was before the multiplexer (`hyp::console`, one guest): guest bytes pass
/// through, and a sluice line starts with CR LF when the guest was mid-line.
#[derive(Default)]
struct ConsoleBefore {
    wire: Vec<u8>,
    at_line_start: bool,
}

#[test]
fn one_guest_matches_the_console_before_the_multiplexer_byte_for_byte() {
    let mut rng = Rng(0x1_9e57);
    let mut mux = ConsoleMux::new(&["guest"]).unwrap();
    let mut wire = Wire::default();
    let mut before = ConsoleBefore {
        at_line_start: true,
        ..Default::default()
    };
    for step in 0..20_000 {
        if rng.below(50) == 0 {
            let text = format!("step {step}");
            wire.sluice(&mut mux, &text);
            if !before.at_line_start {
                before.wire.extend_from_slice(b"\r\n");
            }
            before
                .wire
                .extend_from_slice(format!("[sluice] {text}\r\n").as_bytes());
            before.at_line_start = true;
        } else {
            let byte = b"ab\r\n\x1b\x01("[rng.below(7)];
            wire.guest(&mut mux, 0, &[byte]);
            before.wire.push(byte);
            before.at_line_start = byte == b'\n';
        }
    }
    assert_eq!(wire.0, before.wire);
}

/// Parses the wire into (guest or sluice, content, cut) lines.
fn physical_lines(wire: &str) -> Vec<(Option<char>, &str, bool)> {
    let mut lines = Vec::new();
    for line in wire.split_inclusive('\n') {
        if let Some(text) = line.strip_prefix("[sluice] ") {
            lines.push((None, text, false));
            continue;
        }
        let name = line.chars().nth(1).unwrap();
        let content = line.strip_prefix(&format!("({name}) ")).expect(line);
        match content.strip_suffix(" [...]\r\n") {
            Some(cut) => lines.push((Some(name), cut, true)),
            None => lines.push((Some(name), content, false)),
        }
    }
    lines
}

#[test]
fn random_output_of_three_guests_and_sluice_keeps_every_line_whole_and_in_order() {
    let mut rng = Rng(0x0dd_ba11_f00d);
    let names = ['a', 'b', 'c'];
    let mut cuts = 0;
    for _ in 0..100 {
        let mut mux = three();
        let mut wire = Wire::default();
        let mut lines: [Vec<String>; 3] = Default::default();
        let mut current: [String; 3] = Default::default();
        let mut sluice_lines = Vec::new();
        for step in 0..2000 {
            match rng.below(100) {
                0..=2 => {
                    typed(&mut mux, &[CTRL_A; 3]);
                    if rng.below(2) == 0 {
                        wire.sluice(&mut mux, "focus moved");
                        sluice_lines.push(String::from("focus moved\r\n"));
                    }
                }
                3..=4 => {
                    wire.sluice(&mut mux, &format!("step {step}"));
                    sluice_lines.push(format!("step {step}\r\n"));
                }
                5 => wire.write(mux.resume()),
                _ => {
                    let g = rng.below(3);
                    let byte = b"abcde \r\x1b\n"[rng.below(9)];
                    let byte = if current[g].len() >= 40 { b'\n' } else { byte };
                    wire.write(mux.output(g, byte));
                    current[g].push(byte as char);
                    if byte == b'\n' {
                        lines[g].push(core::mem::take(&mut current[g]));
                    }
                }
            }
        }
        wire.write(mux.before_sluice_line());
        let text = wire.text();
        let mut seen: [Vec<String>; 3] = Default::default();
        let mut seen_sluice = Vec::new();
        for (owner, content, cut) in physical_lines(&text) {
            let Some(name) = owner else {
                seen_sluice.push(String::from(content));
                continue;
            };
            let g = names.iter().position(|&n| n == name).unwrap();
            if cut {
                cuts += 1;
                let whole = lines[g].get(seen[g].len()).unwrap_or(&current[g]);
                assert!(
                    whole.starts_with(content),
                    "{content:?} is not from {whole:?}"
                );
            } else {
                seen[g].push(String::from(content));
            }
        }
        assert_eq!(
            seen, lines,
            "every line of every guest, whole, once, in order"
        );
        assert_eq!(seen_sluice, sluice_lines);
    }
    assert!(cuts > 1000, "the cuts were exercised ({cuts})");
}
