//! Configuration-space register offsets and bits (PCI Local Bus 3.0 ch. 6, PCIe Base 4.0 ch. 7).
#![forbid(unsafe_code)]

/// Vendor ID (16 bits) and Device ID.
pub const VENDOR_ID: u16 = 0x00;
/// Device ID.
pub const DEVICE_ID: u16 = 0x02;
/// Command register.
pub const COMMAND: u16 = 0x04;
/// Status register.
pub const STATUS: u16 = 0x06;
/// Revision ID and class code.
pub const CLASS_REVISION: u16 = 0x08;
/// Cache line size.
pub const CACHE_LINE_SIZE: u16 = 0x0c;
/// Latency timer.
pub const LATENCY_TIMER: u16 = 0x0d;
/// Header type.
pub const HEADER_TYPE: u16 = 0x0e;
/// BIST.
pub const BIST: u16 = 0x0f;
/// First base address register.
pub const BAR0: u16 = 0x10;
/// Subsystem vendor ID (type 0).
pub const SUBSYSTEM_VENDOR_ID: u16 = 0x2c;
/// Subsystem ID (type 0).
pub const SUBSYSTEM_ID: u16 = 0x2e;
/// Expansion ROM base address (type 0).
pub const ROM_ADDRESS: u16 = 0x30;
/// Capabilities pointer.
pub const CAPABILITY_LIST: u16 = 0x34;
/// Expansion ROM base address (type 1).
pub const ROM_ADDRESS_BRIDGE: u16 = 0x38;
/// Interrupt line.
pub const INTERRUPT_LINE: u16 = 0x3c;
/// Interrupt pin.
pub const INTERRUPT_PIN: u16 = 0x3d;
/// Min grant / max latency (type 0).
pub const MIN_GNT: u16 = 0x3e;

/// Type 1: primary, secondary, subordinate bus numbers and secondary latency.
pub const PRIMARY_BUS: u16 = 0x18;
/// Type 1: I/O base and limit, secondary status.
pub const IO_BASE: u16 = 0x1c;
/// Type 1: memory base and limit.
pub const MEMORY_BASE: u16 = 0x20;
/// Type 1: prefetchable memory base and limit.
pub const PREF_MEMORY_BASE: u16 = 0x24;
/// Type 1: prefetchable base, upper 32 bits.
pub const PREF_BASE_UPPER32: u16 = 0x28;
/// Type 1: prefetchable limit, upper 32 bits.
pub const PREF_LIMIT_UPPER32: u16 = 0x2c;
/// Type 1: bridge control.
pub const BRIDGE_CONTROL: u16 = 0x3e;
/// Bridge control: secondary bus reset.
pub const BRIDGE_CTL_BUS_RESET: u16 = 1 << 6;

/// Command: I/O space decode.
pub const COMMAND_IO: u16 = 1 << 0;
/// Command: memory space decode.
pub const COMMAND_MEMORY: u16 = 1 << 1;
/// Command: bus master.
pub const COMMAND_MASTER: u16 = 1 << 2;
/// Command: SERR# enable.
pub const COMMAND_SERR: u16 = 1 << 8;
/// Command: parity error response.
pub const COMMAND_PARITY: u16 = 1 << 6;
/// Command: INTx disable.
pub const COMMAND_INTX_DISABLE: u16 = 1 << 10;

/// Status: INTx asserted.
pub const STATUS_INTERRUPT: u16 = 1 << 3;
/// Status: capabilities list present.
pub const STATUS_CAP_LIST: u16 = 1 << 4;
/// Status bits that are write-1-to-clear (master data parity error, signalled/received target
/// abort, received master abort, signalled system error, detected parity error).
pub const STATUS_RW1C: u16 = 1 << 8 | 1 << 11 | 1 << 12 | 1 << 13 | 1 << 14 | 1 << 15;

/// Header type: layout mask.
pub const HEADER_TYPE_MASK: u8 = 0x7f;
/// Header type: multi-function device.
pub const HEADER_TYPE_MULTI_FUNCTION: u8 = 0x80;
/// Header layout 0: endpoint.
pub const HEADER_TYPE_NORMAL: u8 = 0;
/// Header layout 1: PCI-to-PCI bridge.
pub const HEADER_TYPE_BRIDGE: u8 = 1;

/// Capability IDs (PCI Code and ID Assignment Specification).
pub mod cap {
    /// Power management.
    pub const PM: u8 = 0x01;
    /// MSI.
    pub const MSI: u8 = 0x05;
    /// Vendor specific.
    pub const VENDOR: u8 = 0x09;
    /// PCI Express.
    pub const EXP: u8 = 0x10;
    /// MSI-X.
    pub const MSIX: u8 = 0x11;
}

/// MSI control: enable.
pub const MSI_FLAGS_ENABLE: u16 = 1 << 0;
/// MSI-X control: enable.
pub const MSIX_FLAGS_ENABLE: u16 = 1 << 15;
/// MSI-X control: function mask.
pub const MSIX_FLAGS_MASKALL: u16 = 1 << 14;
