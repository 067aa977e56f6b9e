//! Which host RAM each guest gets: disjoint ranges, 2 MiB aligned at both ends so that stage 2
//! (and the SMMU's copy of it) can map them with blocks.
//!
//! Guests that give a size get exactly that; the others share what is left equally (the
//! largest equal share that still fits). Each guest's RAM is one contiguous range when
//! `max_ranges` is 1 (today's stage 2 and guest DT describe one bank); with more, a guest that
//! fits in no single free range is spread over up to that many. Placement is best fit, largest
//! request first, each piece cut from the low end of the free range it comes from.
#![forbid(unsafe_code)]

use super::{PartitionError, Result};
use crate::mm::carve::FreeMemory;
use crate::mm::PhysRange;
use alloc::vec::Vec;

/// Alignment and granule of guest RAM.
pub const RAM_ALIGN: u64 = 2 << 20;

/// The RAM one guest asks for.
#[derive(Debug, Clone, Copy)]
pub struct RamRequest<'a> {
    /// Its DT node (for errors).
    pub node: &'a str,
    /// Bytes (a multiple of [`RAM_ALIGN`]), or `None` for a share of what is left.
    pub bytes: Option<u64>,
    /// The least it can boot with (its kernel and initrd).
    pub min_bytes: u64,
}

/// Per request, its host RAM ranges (sorted by address), carved from `free`.
pub fn assign(
    requests: &[RamRequest],
    free: &[PhysRange],
    max_ranges: usize,
) -> Result<Vec<Vec<PhysRange>>> {
    if let Some(r) = requests
        .iter()
        .find(|r| r.bytes.is_some_and(|b| b < r.min_bytes))
    {
        return Err(PartitionError::RamTooSmall {
            node: r.node.into(),
            ram_bytes: r.bytes.unwrap_or(0),
            images_bytes: r.min_bytes,
        });
    }
    let pieces = aligned_pieces(free);
    let total = pieces
        .iter()
        .fold(0u64, |a, p| a.saturating_add(p.size_bytes));
    let sizes =
        |share: u64| -> Vec<u64> { requests.iter().map(|r| r.bytes.unwrap_or(share)).collect() };
    let no_room = |failed: usize, share: u64| PartitionError::NotEnoughRam {
        node: requests[failed].node.into(),
        wanted_bytes: requests[failed].bytes.unwrap_or(share),
        free_bytes: total,
        largest_free_bytes: pieces.iter().map(|p| p.size_bytes).max().unwrap_or(0),
    };
    let sharing: Vec<&RamRequest> = requests.iter().filter(|r| r.bytes.is_none()).collect();
    if sharing.is_empty() {
        return place(&pieces, &sizes(0), max_ranges).map_err(|g| no_room(g, 0));
    }
    // The least share every sharing guest can boot with, then the largest share that fits.
    let least = sharing
        .iter()
        .map(|r| r.min_bytes.max(1).div_ceil(RAM_ALIGN))
        .max()
        .unwrap_or(1)
        .saturating_mul(RAM_ALIGN);
    let first = place(&pieces, &sizes(least), max_ranges).map_err(|g| no_room(g, least))?;
    let sized = requests
        .iter()
        .filter_map(|r| r.bytes)
        .fold(0u64, u64::saturating_add);
    let most = total.saturating_sub(sized) / sharing.len() as u64;
    Ok(largest_share(least, most, first, |share| {
        place(&pieces, &sizes(share), max_ranges).ok()
    }))
}

/// The placement of the largest share in `least..=most` (multiples of [`RAM_ALIGN`]) for
/// which `try_share` succeeds, by bisection; `fallback` is the placement for `least`.
fn largest_share(
    least: u64,
    most: u64,
    fallback: Vec<Vec<PhysRange>>,
    try_share: impl Fn(u64) -> Option<Vec<Vec<PhysRange>>>,
) -> Vec<Vec<PhysRange>> {
    let (mut best, mut lo, mut hi) = (fallback, least / RAM_ALIGN, most / RAM_ALIGN);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        match try_share(mid * RAM_ALIGN) {
            Some(plan) => (best, lo) = (plan, mid),
            None => hi = mid - 1,
        }
    }
    best
}

/// The free RAM, merged, each range shrunk to [`RAM_ALIGN`] boundaries.
fn aligned_pieces(free: &[PhysRange]) -> Vec<PhysRange> {
    FreeMemory::new(free)
        .ranges()
        .iter()
        .filter_map(|r| {
            let start = r.start.checked_next_multiple_of(RAM_ALIGN)?;
            let end = r.end_exclusive()? / RAM_ALIGN * RAM_ALIGN;
            (end > start).then(|| PhysRange::new(start, end - start))
        })
        .collect()
}

/// Places every size (largest first), or gives the index of the first that does not fit.
fn place(
    pieces: &[PhysRange],
    sizes: &[u64],
    max_ranges: usize,
) -> core::result::Result<Vec<Vec<PhysRange>>, usize> {
    let mut free = pieces.to_vec();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&g| core::cmp::Reverse(sizes[g]));
    let mut placed: Vec<Vec<PhysRange>> = alloc::vec![Vec::new(); sizes.len()];
    for g in order {
        placed[g] = take(&mut free, sizes[g], max_ranges).ok_or(g)?;
        placed[g].sort();
    }
    Ok(placed)
}

/// `size` bytes from `free`: from the smallest range that holds it all, else from the largest
/// ranges, at most `max_ranges` of them.
fn take(free: &mut Vec<PhysRange>, size: u64, max_ranges: usize) -> Option<Vec<PhysRange>> {
    let best_fit = (0..free.len())
        .filter(|&i| free[i].size_bytes >= size)
        .min_by_key(|&i| (free[i].size_bytes, free[i].start));
    let mut chosen: Vec<(usize, u64)> = match best_fit {
        Some(i) => alloc::vec![(i, size)],
        None => {
            let mut by_size: Vec<usize> = (0..free.len()).collect();
            by_size.sort_by_key(|&i| (core::cmp::Reverse(free[i].size_bytes), free[i].start));
            let mut left = size;
            let mut list = Vec::new();
            for i in by_size.into_iter().take(max_ranges) {
                let part = left.min(free[i].size_bytes);
                list.push((i, part));
                left -= part;
                if left == 0 {
                    break;
                }
            }
            if left != 0 {
                return None;
            }
            list
        }
    };
    let taken = chosen
        .iter()
        .map(|&(i, part)| PhysRange::new(free[i].start, part))
        .collect();
    for (i, part) in chosen.drain(..) {
        free[i] = PhysRange::new(free[i].start + part, free[i].size_bytes - part);
    }
    free.retain(|p| p.size_bytes != 0);
    Some(taken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    const MIB: u64 = 1 << 20;

    fn req(node: &str, mib: Option<u64>) -> RamRequest<'_> {
        RamRequest {
            node,
            bytes: mib.map(|m| m * MIB),
            min_bytes: 8 * MIB,
        }
    }

    fn disjoint_and_aligned(plan: &[Vec<PhysRange>]) -> bool {
        let all: Vec<&PhysRange> = plan.iter().flatten().collect();
        all.iter()
            .all(|r| r.start % RAM_ALIGN == 0 && r.size_bytes % RAM_ALIGN == 0)
            && all
                .iter()
                .enumerate()
                .all(|(i, a)| all[..i].iter().all(|b| !a.overlaps(b)))
    }

    #[test]
    fn sized_guests_get_exactly_their_size_in_one_aligned_range_each() {
        let free = [PhysRange::new(0x4120_0000, 900 * MIB)];
        let plan = assign(&[req("/a", Some(256)), req("/b", Some(512))], &free, 1).unwrap();
        assert_eq!(
            plan[0],
            [PhysRange::new(0x4120_0000 + 512 * MIB, 256 * MIB)]
        );
        assert_eq!(plan[1], [PhysRange::new(0x4120_0000, 512 * MIB)]);
        assert!(disjoint_and_aligned(&plan));
    }

    #[test]
    fn unaligned_free_ranges_are_shrunk_to_2_mib_boundaries() {
        let free = [PhysRange::new(0x4010_0000, 20 * MIB)];
        let plan = assign(&[req("/a", None)], &free, 1).unwrap();
        assert_eq!(plan[0], [PhysRange::new(0x4020_0000, 18 * MIB)]);
    }

    #[test]
    fn guests_without_a_size_share_what_is_left_equally() {
        let free = [PhysRange::new(0x4000_0000, 1000 * MIB)];
        let requests = [req("/a", None), req("/b", Some(100)), req("/c", None)];
        let plan = assign(&requests, &free, 1).unwrap();
        assert_eq!(plan[0][0].size_bytes, 450 * MIB);
        assert_eq!(plan[2][0].size_bytes, 450 * MIB);
        assert_eq!(plan[1][0].size_bytes, 100 * MIB);
        assert!(disjoint_and_aligned(&plan));
    }

    #[test]
    fn shares_shrink_to_what_fits_contiguously_around_a_hole() {
        // 300 MiB and 100 MiB free: two contiguous equal shares fit only as 150 MiB twice in
        // the big range; allowed two pieces each, they get 200 MiB.
        let free = [
            PhysRange::new(0x4000_0000, 300 * MIB),
            PhysRange::new(0x6000_0000, 100 * MIB),
        ];
        let plan = assign(&[req("/a", None), req("/b", None)], &free, 1).unwrap();
        assert_eq!(plan[0][0].size_bytes, 150 * MIB);
        assert_eq!(plan[1][0].size_bytes, 150 * MIB);
        let split = assign(&[req("/a", None), req("/b", None)], &free, 2).unwrap();
        assert_eq!(
            split[0].iter().map(|r| r.size_bytes).sum::<u64>(),
            200 * MIB
        );
        assert!(disjoint_and_aligned(&split));
    }

    #[test]
    fn best_fit_keeps_the_big_range_for_the_big_guest() {
        let free = [
            PhysRange::new(0x4000_0000, 64 * MIB),
            PhysRange::new(0x5000_0000, 512 * MIB),
        ];
        let plan = assign(&[req("/small", Some(64)), req("/big", Some(512))], &free, 1).unwrap();
        assert_eq!(plan[0], [PhysRange::new(0x4000_0000, 64 * MIB)]);
        assert_eq!(plan[1], [PhysRange::new(0x5000_0000, 512 * MIB)]);
    }

    #[test]
    fn a_guest_that_fits_in_no_single_range_may_span_several_when_allowed() {
        let free = [
            PhysRange::new(0x4000_0000, 64 * MIB),
            PhysRange::new(0x5000_0000, 64 * MIB),
        ];
        let e = assign(&[req("/a", Some(100))], &free, 1).unwrap_err();
        assert_eq!(
            format!("{e}"),
            "/a: cannot get 100 MiB of RAM (free: 128 MiB in 2 MiB-aligned ranges, the \
             largest 64 MiB)"
        );
        let plan = assign(&[req("/a", Some(100))], &free, 2).unwrap();
        assert_eq!(
            plan[0],
            [
                PhysRange::new(0x4000_0000, 64 * MIB),
                PhysRange::new(0x5000_0000, 36 * MIB)
            ]
        );
    }

    #[test]
    fn not_enough_ram_names_the_guest_that_did_not_fit() {
        let free = [PhysRange::new(0x4000_0000, 256 * MIB)];
        let e = assign(&[req("/a", Some(200)), req("/b", Some(100))], &free, 1).unwrap_err();
        assert!(matches!(e, PartitionError::NotEnoughRam { node, .. } if node == "/b"));
        let share = assign(&[req("/a", Some(250)), req("/b", None)], &free, 1).unwrap_err();
        assert!(
            matches!(share, PartitionError::NotEnoughRam { node, wanted_bytes, .. } if node == "/b" && wanted_bytes == 8 * MIB)
        );
    }

    #[test]
    fn a_size_below_the_guests_own_images_is_refused() {
        let free = [PhysRange::new(0x4000_0000, 256 * MIB)];
        let e = assign(&[req("/a", Some(4))], &free, 1).unwrap_err();
        assert!(matches!(e, PartitionError::RamTooSmall { .. }));
        assert!(format!("{e}").starts_with("/a: 4 MiB of RAM cannot hold its kernel and initrd"));
    }

    #[test]
    fn sizes_near_the_top_of_64_bits_are_refused_without_overflow() {
        let free = [PhysRange::new(0x4000_0000, 256 * MIB)];
        let huge = u64::MAX / RAM_ALIGN * RAM_ALIGN;
        let two = [
            req("/a", None),
            RamRequest {
                bytes: Some(huge),
                ..req("/b", None)
            },
        ];
        assert!(assign(&two, &free, 2).is_err());
        let greedy = [
            RamRequest {
                min_bytes: u64::MAX,
                ..req("/a", None)
            },
            req("/b", Some(8)),
        ];
        assert!(assign(&greedy, &free, 1).is_err());
    }

    #[test]
    fn overlapping_free_ranges_are_not_handed_out_twice() {
        let free = [
            PhysRange::new(0x4000_0000, 64 * MIB),
            PhysRange::new(0x4000_0000, 64 * MIB),
        ];
        assert!(assign(&[req("/a", Some(64)), req("/b", Some(64))], &free, 2).is_err());
    }
}
