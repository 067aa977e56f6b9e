//! Ways to corrupt a flattened device tree (Devicetree Specification 0.4, chapter 5): blind
//! ones (bits, bytes, truncation) and ones that know the layout, so that the damage reaches
//! past the header checks into the structure walk and the property decoding.

use super::fuzz_support::Rng;

const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;
/// Header fields, as u32 indexes.
const TOTALSIZE: usize = 1;
const OFF_DT_STRUCT: usize = 2;
const OFF_DT_STRINGS: usize = 3;
const SIZE_DT_STRUCT: usize = 9;
const HEADER_FIELDS: usize = 10;

fn get(blob: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(blob.get(at..at + 4)?.try_into().ok()?))
}

fn set(blob: &mut [u8], at: usize, value: u32) {
    if let Some(bytes) = blob.get_mut(at..at + 4) {
        bytes.copy_from_slice(&value.to_be_bytes());
    }
}

fn header(blob: &[u8], field: usize) -> usize {
    get(blob, 4 * field).unwrap_or(0) as usize
}

/// A value near `old`, or one from the edges.
fn nearby(rng: &mut Rng, old: u32) -> u32 {
    match rng.below(4) {
        0 => old.wrapping_add(rng.below(16) as u32).wrapping_sub(8),
        1 => rng.pick(&[0, 1, 4, 0x7fff_ffff, 0x8000_0000, u32::MAX, u32::MAX - 3]),
        2 => old ^ 1 << rng.below(32),
        _ => rng.next_u32(),
    }
}

/// The property tokens of the structure block: offsets of their FDT_PROP words.
fn properties(blob: &[u8]) -> Vec<usize> {
    let (start, size) = (header(blob, OFF_DT_STRUCT), header(blob, SIZE_DT_STRUCT));
    let end = start.saturating_add(size).min(blob.len());
    let mut found = Vec::new();
    let mut at = start;
    while at + 12 <= end {
        match get(blob, at) {
            Some(FDT_BEGIN_NODE) => {
                let name = blob[at + 4..end].iter().position(|&b| b == 0);
                let Some(name) = name else { break };
                at = (at + 4 + name + 1).next_multiple_of(4);
            }
            Some(FDT_PROP) => {
                found.push(at);
                let len = get(blob, at + 4).unwrap_or(0) as usize;
                at = (at + 12 + len).next_multiple_of(4);
            }
            Some(FDT_END_NODE | FDT_NOP) => at += 4,
            _ => break,
        }
    }
    found
}

/// Applies one random corruption; returns its name for the failure message.
pub fn any(blob: &mut Vec<u8>, rng: &mut Rng) -> &'static str {
    if blob.len() < 4 * HEADER_FIELDS {
        blob.resize(4 * HEADER_FIELDS, 0);
    }
    match rng.below(10) {
        0 => flip_bits(blob, rng),
        1 => store_bytes(blob, rng),
        2 => header_field(blob, rng),
        3 => truncate(blob, rng),
        4 => structure_token(blob, rng),
        5 => property_field(blob, rng),
        6 | 7 => resize_property(blob, rng),
        8 => cell_values(blob, rng),
        _ => nest_deeply(blob, rng),
    }
}

fn flip_bits(blob: &mut [u8], rng: &mut Rng) -> &'static str {
    for _ in 0..rng.below(8) + 1 {
        let bit = rng.index(blob.len() * 8);
        blob[bit / 8] ^= 1 << (bit % 8);
    }
    "bit flips"
}

fn store_bytes(blob: &mut [u8], rng: &mut Rng) -> &'static str {
    for _ in 0..rng.below(4) + 1 {
        let at = rng.index(blob.len());
        let any = rng.next_u32() as u8;
        blob[at] = rng.pick(&[0, 0xff, 0x7f, 0x80, any]);
    }
    "byte stores"
}

fn header_field(blob: &mut [u8], rng: &mut Rng) -> &'static str {
    let field = rng.index(HEADER_FIELDS);
    let old = header(blob, field) as u32;
    set(blob, 4 * field, nearby(rng, old));
    "header field"
}

fn truncate(blob: &mut Vec<u8>, rng: &mut Rng) -> &'static str {
    let keep = rng.index(blob.len());
    blob.truncate(keep);
    "truncation"
}

fn structure_token(blob: &mut [u8], rng: &mut Rng) -> &'static str {
    let (start, size) = (header(blob, OFF_DT_STRUCT), header(blob, SIZE_DT_STRUCT));
    let at = start + 4 * rng.index(size / 4 + 1);
    let token = rng.pick(&[
        FDT_BEGIN_NODE,
        FDT_END_NODE,
        FDT_PROP,
        FDT_NOP,
        FDT_END,
        0,
        5,
    ]);
    set(blob, at, token);
    "structure token"
}

/// A property's length or name offset.
fn property_field(blob: &mut [u8], rng: &mut Rng) -> &'static str {
    let props = properties(blob);
    if props.is_empty() {
        return flip_bits(blob, rng);
    }
    let at = rng.pick(&props) + if rng.coin() { 4 } else { 8 };
    let old = get(blob, at).unwrap_or(0);
    set(blob, at, nearby(rng, old));
    "property length or name offset"
}

/// Grows or shrinks a property's value and moves everything after it, so the blob stays
/// well formed and the damage is in what the value means (`reg` with a cell too few...).
fn resize_property(blob: &mut Vec<u8>, rng: &mut Rng) -> &'static str {
    let props = properties(blob);
    if props.is_empty() {
        return truncate(blob, rng);
    }
    let at = rng.pick(&props);
    let old_len = get(blob, at + 4).unwrap_or(0) as usize;
    let new_len = match rng.below(3) {
        0 => old_len.saturating_sub(rng.index(9)),
        1 => old_len + rng.index(9),
        _ => rng.index(64),
    };
    let value = at + 12;
    let (old_padded, new_padded) = (old_len.next_multiple_of(4), new_len.next_multiple_of(4));
    if value + old_padded > blob.len() {
        return truncate(blob, rng); // an earlier corruption already broke this property
    }
    let mut bytes = vec![0u8; new_padded];
    rng.fill(&mut bytes[..new_len]);
    let copied = old_len.min(new_len);
    bytes[..copied].copy_from_slice(&blob[value..value + copied]);
    blob.splice(value..value + old_padded, bytes);
    set(blob, at + 4, new_len as u32);
    let delta = new_padded as i64 - old_padded as i64;
    let moved = |v: usize| (v as i64 + delta) as u32;
    let (struct_size, total) = (header(blob, SIZE_DT_STRUCT), header(blob, TOTALSIZE));
    set(blob, 4 * SIZE_DT_STRUCT, moved(struct_size));
    set(blob, 4 * TOTALSIZE, moved(total));
    let strings = header(blob, OFF_DT_STRINGS);
    if strings > at {
        set(blob, 4 * OFF_DT_STRINGS, moved(strings));
    }
    "property resized"
}

/// Cells of a property value set to edge values (`#address-cells` of 0x80000000...).
fn cell_values(blob: &mut [u8], rng: &mut Rng) -> &'static str {
    let props = properties(blob);
    if props.is_empty() {
        return store_bytes(blob, rng);
    }
    let at = rng.pick(&props);
    let len = get(blob, at + 4).unwrap_or(0) as usize;
    for _ in 0..rng.below(3) + 1 {
        let cell = at + 12 + 4 * rng.index(len / 4 + 1);
        let old = get(blob, cell).unwrap_or(0);
        if cell + 4 <= at + 12 + len {
            set(blob, cell, nearby(rng, old));
        }
    }
    "cell values"
}

/// Wraps the root's children in many levels of nodes: recursion must be bounded by the
/// parser, not by the stack.
fn nest_deeply(blob: &mut Vec<u8>, rng: &mut Rng) -> &'static str {
    let start = header(blob, OFF_DT_STRUCT);
    if get(blob, start) != Some(FDT_BEGIN_NODE) || start + 8 > blob.len() {
        return header_field(blob, rng);
    }
    let levels = rng.pick(&[10, 100, 1000, 20_000]);
    let mut open = Vec::new();
    for _ in 0..levels {
        open.extend_from_slice(&FDT_BEGIN_NODE.to_be_bytes());
        open.extend_from_slice(b"n\0\0\0");
    }
    let after_root_name = start + 8; // the root's name is empty: token, then a padded NUL
    blob.splice(after_root_name..after_root_name, open.iter().copied());
    let close: Vec<u8> = (0..levels)
        .flat_map(|_| FDT_END_NODE.to_be_bytes())
        .collect();
    let struct_end = start + header(blob, SIZE_DT_STRUCT) + open.len();
    // The root's FDT_END_NODE and FDT_END are the last two tokens of the block.
    let insert_at = struct_end.saturating_sub(8).min(blob.len());
    blob.splice(insert_at..insert_at, close.iter().copied());
    let grown = (open.len() + close.len()) as u32;
    for field in [SIZE_DT_STRUCT, TOTALSIZE] {
        let old = header(blob, field) as u32;
        set(blob, 4 * field, old.wrapping_add(grown));
    }
    let strings = header(blob, OFF_DT_STRINGS);
    if strings > start {
        set(
            blob,
            4 * OFF_DT_STRINGS,
            (strings as u32).wrapping_add(grown),
        );
    }
    "deep nesting"
}
