//! Where a Linux guest's kernel, initrd and device tree go in its RAM.
//!
//! Follows the arm64 boot protocol (Linux `Documentation/arch/arm64/booting.rst`): the kernel
//! `Image` is placed `text_offset` bytes above a 2 MiB aligned base and needs `image_size` bytes
//! from there (text, data and bss); the DTB must be 8-byte aligned and at most 2 MiB; the
//! initrd must lie in a 1 GiB aligned window of at most 32 GiB that also covers the kernel.
#![forbid(unsafe_code)]

use crate::mm::PhysRange;
use core::fmt;

/// Offset of the "ARM\x64" magic in an arm64 Image header.
const IMAGE_MAGIC_OFFSET: usize = 56;
/// The arm64 Image magic, little-endian "ARM\x64".
const IMAGE_MAGIC: u32 = 0x644d_5241;
/// Size of the arm64 Image header.
const IMAGE_HEADER_BYTES: usize = 64;
/// Kernel base alignment required by the boot protocol.
pub const KERNEL_BASE_ALIGN: u64 = 2 << 20;
/// Largest DTB the boot protocol allows.
pub const DTB_MAX_BYTES: u64 = 2 << 20;
const PAGE_BYTES: u64 = 4096;
/// The initrd and the kernel share a 1 GiB aligned window of at most this size.
const INITRD_WINDOW_BYTES: u64 = 32 << 30;
const GIB: u64 = 1 << 30;

/// Why a guest could not be laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoaderError {
    /// The kernel module is shorter than an Image header.
    TooShort,
    /// The kernel module lacks the "ARM\x64" magic (a compressed vmlinuz, or not arm64).
    NotAnArm64Image,
    /// The header says big-endian; sluice guests are little-endian.
    BigEndian,
    /// Kernel, initrd and DTB do not fit in the guest's RAM.
    DoesNotFit {
        /// Bytes needed.
        needed_bytes: u64,
        /// Bytes of guest RAM.
        ram_bytes: u64,
    },
}

impl fmt::Display for LoaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort => write!(
                f,
                "kernel image is shorter than the 64-byte arm64 Image header"
            ),
            Self::NotAnArm64Image => {
                write!(f, "kernel is not an uncompressed arm64 Image (no ARM\\x64 magic; gunzip a vmlinuz first)")
            }
            Self::BigEndian => write!(
                f,
                "kernel Image is big-endian; only little-endian guests are supported"
            ),
            Self::DoesNotFit {
                needed_bytes,
                ram_bytes,
            } => {
                write!(f, "guest needs {needed_bytes:#x} bytes for kernel, initrd and DTB but has {ram_bytes:#x}")
            }
        }
    }
}

/// Result of a layout operation.
pub type Result<T> = core::result::Result<T, LoaderError>;

/// The fields of an arm64 Image header that placement needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// Offset of the image above its 2 MiB aligned base.
    pub text_offset: u64,
    /// Bytes the kernel needs from its load address, bss included.
    pub image_size_bytes: u64,
}

impl ImageHeader {
    /// Parses the header at the start of `image`.
    pub fn parse(image: &[u8]) -> Result<Self> {
        let header = image
            .get(..IMAGE_HEADER_BYTES)
            .ok_or(LoaderError::TooShort)?;
        let u64_at =
            |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or([0; 8]));
        let magic = u32::from_le_bytes(
            header[IMAGE_MAGIC_OFFSET..IMAGE_MAGIC_OFFSET + 4]
                .try_into()
                .unwrap_or([0; 4]),
        );
        if magic != IMAGE_MAGIC {
            return Err(LoaderError::NotAnArm64Image);
        }
        let flags = u64_at(24);
        if flags & 1 != 0 {
            return Err(LoaderError::BigEndian);
        }
        let (text_offset, image_size) = (u64_at(8), u64_at(16));
        // image_size 0 means a pre-3.17 kernel: the protocol then asks for text_offset 0x80000
        // and gives no size, so reserve the file plus a generous bss allowance.
        let image_size_bytes = if image_size == 0 {
            (image.len() as u64).saturating_mul(2)
        } else {
            image_size
        };
        Ok(Self {
            text_offset,
            image_size_bytes,
        })
    }
}

/// Guest-physical placement of everything the guest boots with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestLayout {
    /// Where the kernel Image is copied; also the entry point.
    pub kernel: PhysRange,
    /// Where the initrd is copied, if there is one.
    pub initrd: Option<PhysRange>,
    /// Room reserved for the generated device tree.
    pub dtb: PhysRange,
}

/// What has to be placed in guest RAM.
#[derive(Debug, Clone, Copy)]
pub struct GuestImages {
    /// The parsed kernel header.
    pub header: ImageHeader,
    /// Length of the kernel file.
    pub kernel_bytes: u64,
    /// Length of the initrd file, if any.
    pub initrd_bytes: Option<u64>,
}

/// Places the kernel at the bottom of `ram`, the DTB in the top 2 MiB and the initrd below it,
/// where "top" stops at the end of the 32 GiB window from the kernel's 1 GiB aligned base.
pub fn plan(ram: PhysRange, images: &GuestImages) -> Result<GuestLayout> {
    let needed = needed_bytes(images);
    let does_not_fit = LoaderError::DoesNotFit {
        needed_bytes: needed.unwrap_or(u64::MAX),
        ram_bytes: ram.size_bytes,
    };
    let base = ram
        .start
        .checked_next_multiple_of(KERNEL_BASE_ALIGN)
        .ok_or(does_not_fit)?;
    let window_end = (base & !(GIB - 1)).saturating_add(INITRD_WINDOW_BYTES);
    let ram_end = ram.end_exclusive().ok_or(does_not_fit)?.min(window_end);
    let kernel_start = base
        .checked_add(images.header.text_offset)
        .ok_or(does_not_fit)?;
    let kernel_end = kernel_start
        .checked_add(images.header.image_size_bytes.max(images.kernel_bytes))
        .ok_or(does_not_fit)?;
    let dtb_start = ram_end.checked_sub(DTB_MAX_BYTES).ok_or(does_not_fit)? & !(PAGE_BYTES - 1);
    let initrd = match images.initrd_bytes {
        Some(len) => {
            let start = dtb_start.checked_sub(len).ok_or(does_not_fit)? & !(PAGE_BYTES - 1);
            Some(PhysRange::new(start, len))
        }
        None => None,
    };
    let lowest_above_kernel = initrd.map_or(dtb_start, |r| r.start);
    if kernel_end > lowest_above_kernel || needed.is_none() {
        return Err(does_not_fit);
    }
    Ok(GuestLayout {
        kernel: PhysRange::new(kernel_start, images.kernel_bytes),
        initrd,
        dtb: PhysRange::new(dtb_start, DTB_MAX_BYTES),
    })
}

fn needed_bytes(images: &GuestImages) -> Option<u64> {
    images
        .header
        .text_offset
        .checked_add(images.header.image_size_bytes.max(images.kernel_bytes))?
        .checked_add(images.initrd_bytes.unwrap_or(0))?
        .checked_add(DTB_MAX_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn image(text_offset: u64, image_size: u64, flags: u64) -> [u8; 64] {
        let mut h = [0u8; 64];
        h[8..16].copy_from_slice(&text_offset.to_le_bytes());
        h[16..24].copy_from_slice(&image_size.to_le_bytes());
        h[24..32].copy_from_slice(&flags.to_le_bytes());
        h[56..60].copy_from_slice(b"ARM\x64");
        h
    }

    #[test]
    fn header_fields_are_read_little_endian() {
        let h = ImageHeader::parse(&image(0, 0x2a0_0000, 0xa)).unwrap();
        assert_eq!(
            h,
            ImageHeader {
                text_offset: 0,
                image_size_bytes: 0x2a0_0000
            }
        );
    }

    #[test]
    fn gzip_kernel_and_short_files_and_big_endian_are_refused() {
        let mut gz = image(0, 1, 0);
        gz[56] = 0x1f;
        assert_eq!(ImageHeader::parse(&gz), Err(LoaderError::NotAnArm64Image));
        assert_eq!(ImageHeader::parse(&[0; 10]), Err(LoaderError::TooShort));
        assert_eq!(
            ImageHeader::parse(&image(0, 1, 1)),
            Err(LoaderError::BigEndian)
        );
    }

    #[test]
    fn kernel_goes_low_dtb_in_the_top_two_mib_and_initrd_below_it() {
        let ram = PhysRange::new(0x4100_0000, 512 * MIB);
        let images = GuestImages {
            header: ImageHeader {
                text_offset: 0,
                image_size_bytes: 40 * MIB,
            },
            kernel_bytes: 30 * MIB,
            initrd_bytes: Some(5 * MIB + 17),
        };
        let l = plan(ram, &images).unwrap();
        assert_eq!(l.kernel, PhysRange::new(0x4100_0000, 30 * MIB));
        assert_eq!(l.dtb.start, 0x4100_0000 + 510 * MIB);
        let initrd = l.initrd.unwrap();
        assert_eq!(initrd.start % 4096, 0);
        assert!(initrd.end_exclusive().unwrap() <= l.dtb.start);
        assert!(initrd.start >= l.kernel.start + 40 * MIB);
    }

    #[test]
    fn unaligned_ram_base_is_rounded_up_to_two_mib_plus_text_offset() {
        let ram = PhysRange::new(0x4010_0000, 256 * MIB);
        let images = GuestImages {
            header: ImageHeader {
                text_offset: 0x8_0000,
                image_size_bytes: MIB,
            },
            kernel_bytes: MIB,
            initrd_bytes: None,
        };
        assert_eq!(plan(ram, &images).unwrap().kernel.start, 0x4028_0000);
    }

    #[test]
    fn a_kernel_bigger_than_ram_does_not_fit() {
        let images = GuestImages {
            header: ImageHeader {
                text_offset: 0,
                image_size_bytes: u64::MAX,
            },
            kernel_bytes: MIB,
            initrd_bytes: Some(MIB),
        };
        assert!(matches!(
            plan(PhysRange::new(0, 64 * MIB), &images),
            Err(LoaderError::DoesNotFit { .. })
        ));
    }

    #[test]
    fn in_a_bank_over_32_gib_the_initrd_and_dtb_stay_in_the_kernels_window() {
        let ram = PhysRange::new(0x4840_0000, 40 << 30);
        let images = GuestImages {
            header: ImageHeader {
                text_offset: 0,
                image_size_bytes: 40 * MIB,
            },
            kernel_bytes: 30 * MIB,
            initrd_bytes: Some(5 * MIB),
        };
        let l = plan(ram, &images).unwrap();
        let window_end = 0x4000_0000 + (32 << 30);
        assert_eq!(l.dtb.end_exclusive(), Some(window_end));
        assert!(l.initrd.unwrap().end_exclusive().unwrap() <= l.dtb.start);
    }
}
