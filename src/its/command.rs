//! ITS commands (GICv3 architecture specification IHI 0069, 5.3): 32-byte queue entries,
//! decoded from what a guest wrote and encoded for the physical ITS.
#![forbid(unsafe_code)]

use crate::gicv3::its::{ITS_CMD_DW0, ITS_CMD_DW1, ITS_CMD_DW2, ITS_CMD_DW3, ITT_ADDRESS_MASK};

/// Bytes per command.
pub const COMMAND_BYTES: usize = 32;

mod opcode {
    pub const MOVI: u8 = 0x01;
    pub const INT: u8 = 0x03;
    pub const CLEAR: u8 = 0x04;
    pub const SYNC: u8 = 0x05;
    pub const MAPD: u8 = 0x08;
    pub const MAPC: u8 = 0x09;
    pub const MAPTI: u8 = 0x0a;
    pub const MAPI: u8 = 0x0b;
    pub const INV: u8 = 0x0c;
    pub const INVALL: u8 = 0x0d;
    pub const MOVALL: u8 = 0x0e;
    pub const DISCARD: u8 = 0x0f;
}

/// A decoded ITS command. Collection targets are processor numbers (GITS_TYPER.PTA = 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItsCommand {
    /// Map (valid) or unmap a device and size its event space (`event_bits` bits).
    Mapd {
        /// DeviceID.
        device: u32,
        /// Number of EventID bits.
        event_bits: u8,
        /// ITT address (ignored by the virtual ITS, which keeps its own tables).
        itt_addr: u64,
        /// Map (true) or unmap.
        valid: bool,
    },
    /// Map (valid) or unmap a collection to a target processor.
    Mapc {
        /// Collection ID.
        collection: u16,
        /// Target processor number (or RDbase >> 16).
        target: u64,
        /// Map or unmap.
        valid: bool,
    },
    /// Map an event of a device to an LPI in a collection (MAPI: the LPI is the EventID).
    Mapti {
        /// DeviceID.
        device: u32,
        /// EventID.
        event: u32,
        /// LPI INTID.
        intid: u32,
        /// Collection ID.
        collection: u16,
    },
    /// Move an event to another collection.
    Movi {
        /// DeviceID.
        device: u32,
        /// EventID.
        event: u32,
        /// New collection.
        collection: u16,
    },
    /// Unmap an event (and clear its pending state).
    Discard {
        /// DeviceID.
        device: u32,
        /// EventID.
        event: u32,
    },
    /// Reload an event's LPI configuration.
    Inv {
        /// DeviceID.
        device: u32,
        /// EventID.
        event: u32,
    },
    /// Reload the configuration of every LPI of a collection.
    Invall {
        /// Collection ID.
        collection: u16,
    },
    /// Wait for earlier commands to take effect on a redistributor.
    Sync {
        /// Target processor.
        target: u64,
    },
    /// Clear an event's pending state.
    Clear {
        /// DeviceID.
        device: u32,
        /// EventID.
        event: u32,
    },
    /// Make an event's LPI pending, as if the device had signalled it.
    Int {
        /// DeviceID.
        device: u32,
        /// EventID.
        event: u32,
    },
    /// Move every LPI of one redistributor to another.
    Movall {
        /// From processor.
        from: u64,
        /// To processor.
        to: u64,
    },
    /// An opcode the architecture does not define (or a GICv4 one sluice does not offer).
    Unknown {
        /// The opcode.
        opcode: u8,
    },
}

/// Doubleword 0 of a command: opcode and DeviceID.
fn dw0(opcode: u8, device: u32) -> u64 {
    (ITS_CMD_DW0::CommandType.val(opcode as u64) + ITS_CMD_DW0::DeviceID.val(device as u64)).value
}

fn dw(bytes: &[u8; COMMAND_BYTES], n: usize) -> u64 {
    u64::from_le_bytes(bytes[8 * n..8 * n + 8].try_into().unwrap_or([0; 8]))
}

impl ItsCommand {
    /// Decodes one command.
    pub fn decode(bytes: &[u8; COMMAND_BYTES]) -> Self {
        let (d0, d1, d2, d3) = (dw(bytes, 0), dw(bytes, 1), dw(bytes, 2), dw(bytes, 3));
        let device = ITS_CMD_DW0::DeviceID.read(d0) as u32;
        let event = ITS_CMD_DW1::EventID.read(d1) as u32;
        let collection = ITS_CMD_DW2::ICID.read(d2) as u16;
        let target = ITS_CMD_DW2::RDbase.read(d2);
        let valid = ITS_CMD_DW2::Valid.is_set(d2);
        match ITS_CMD_DW0::CommandType.read(d0) as u8 {
            opcode::MAPD => ItsCommand::Mapd {
                device,
                event_bits: ITS_CMD_DW1::Size.read(d1) as u8 + 1,
                itt_addr: d2 & ITT_ADDRESS_MASK,
                valid,
            },
            opcode::MAPC => ItsCommand::Mapc {
                collection,
                target,
                valid,
            },
            opcode::MAPTI => ItsCommand::Mapti {
                device,
                event,
                intid: ITS_CMD_DW1::pINTID.read(d1) as u32,
                collection,
            },
            opcode::MAPI => ItsCommand::Mapti {
                device,
                event,
                intid: event,
                collection,
            },
            opcode::MOVI => ItsCommand::Movi {
                device,
                event,
                collection,
            },
            opcode::DISCARD => ItsCommand::Discard { device, event },
            opcode::INV => ItsCommand::Inv { device, event },
            opcode::INVALL => ItsCommand::Invall { collection },
            opcode::SYNC => ItsCommand::Sync { target },
            opcode::CLEAR => ItsCommand::Clear { device, event },
            opcode::INT => ItsCommand::Int { device, event },
            opcode::MOVALL => ItsCommand::Movall {
                from: target,
                to: ITS_CMD_DW3::RDbase2.read(d3),
            },
            opcode => ItsCommand::Unknown { opcode },
        }
    }

    /// Encodes the command for a physical ITS.
    pub fn encode(&self) -> [u8; COMMAND_BYTES] {
        let (d0, d1, d2, d3): (u64, u64, u64, u64) = match *self {
            ItsCommand::Mapd {
                device,
                event_bits,
                itt_addr,
                valid,
            } => (
                dw0(opcode::MAPD, device),
                ITS_CMD_DW1::Size
                    .val(event_bits.saturating_sub(1) as u64)
                    .value,
                (itt_addr & ITT_ADDRESS_MASK) | ITS_CMD_DW2::Valid.val(valid as u64).value,
                0,
            ),
            ItsCommand::Mapc {
                collection,
                target,
                valid,
            } => (
                dw0(opcode::MAPC, 0),
                0,
                (ITS_CMD_DW2::ICID.val(collection as u64)
                    + ITS_CMD_DW2::RDbase.val(target)
                    + ITS_CMD_DW2::Valid.val(valid as u64))
                .value,
                0,
            ),
            ItsCommand::Mapti {
                device,
                event,
                intid,
                collection,
            } => (
                dw0(opcode::MAPTI, device),
                (ITS_CMD_DW1::EventID.val(event as u64) + ITS_CMD_DW1::pINTID.val(intid as u64))
                    .value,
                collection as u64,
                0,
            ),
            ItsCommand::Movi {
                device,
                event,
                collection,
            } => (
                dw0(opcode::MOVI, device),
                event as u64,
                collection as u64,
                0,
            ),
            ItsCommand::Discard { device, event } => {
                (dw0(opcode::DISCARD, device), event as u64, 0, 0)
            }
            ItsCommand::Inv { device, event } => (dw0(opcode::INV, device), event as u64, 0, 0),
            ItsCommand::Invall { collection } => (dw0(opcode::INVALL, 0), 0, collection as u64, 0),
            ItsCommand::Sync { target } => (
                dw0(opcode::SYNC, 0),
                0,
                ITS_CMD_DW2::RDbase.val(target).value,
                0,
            ),
            ItsCommand::Clear { device, event } => (dw0(opcode::CLEAR, device), event as u64, 0, 0),
            ItsCommand::Int { device, event } => (dw0(opcode::INT, device), event as u64, 0, 0),
            ItsCommand::Movall { from, to } => (
                dw0(opcode::MOVALL, 0),
                0,
                ITS_CMD_DW2::RDbase.val(from).value,
                ITS_CMD_DW3::RDbase2.val(to).value,
            ),
            ItsCommand::Unknown { opcode } => (opcode as u64, 0, 0, 0),
        };
        let mut out = [0u8; COMMAND_BYTES];
        for (i, v) in [d0, d1, d2, d3].into_iter().enumerate() {
            out[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(d: [u64; 4]) -> [u8; COMMAND_BYTES] {
        let mut out = [0u8; COMMAND_BYTES];
        for (i, v) in d.into_iter().enumerate() {
            out[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    #[test]
    fn mapd_from_linux_decodes_device_size_itt_and_valid() {
        let c = ItsCommand::decode(&raw([0x0000_0008_0000_0008, 4, 1 << 63 | 0x4820_1000, 0]));
        assert_eq!(
            c,
            ItsCommand::Mapd {
                device: 8,
                event_bits: 5,
                itt_addr: 0x4820_1000,
                valid: true
            }
        );
    }

    #[test]
    fn mapti_and_mapi_decode_to_the_same_shape() {
        let c = ItsCommand::decode(&raw([0x0000_0008_0000_000a, 0x0000_2000_0000_0003, 1, 0]));
        assert_eq!(
            c,
            ItsCommand::Mapti {
                device: 8,
                event: 3,
                intid: 0x2000,
                collection: 1
            }
        );
        let c = ItsCommand::decode(&raw([0x0000_0008_0000_000b, 0x2001, 0, 0]));
        assert_eq!(
            c,
            ItsCommand::Mapti {
                device: 8,
                event: 0x2001,
                intid: 0x2001,
                collection: 0
            }
        );
    }

    #[test]
    fn mapc_sync_and_movall_carry_processor_targets() {
        assert_eq!(
            ItsCommand::decode(&raw([0x09, 0, 1 << 63 | 1 << 16 | 3, 0])),
            ItsCommand::Mapc {
                collection: 3,
                target: 1,
                valid: true
            }
        );
        assert_eq!(
            ItsCommand::decode(&raw([0x05, 0, 1 << 16, 0])),
            ItsCommand::Sync { target: 1 }
        );
        assert_eq!(
            ItsCommand::decode(&raw([0x0e, 0, 0, 1 << 16])),
            ItsCommand::Movall { from: 0, to: 1 }
        );
    }

    #[test]
    fn encode_then_decode_round_trips_every_command() {
        let commands = [
            ItsCommand::Mapd {
                device: 0x10,
                event_bits: 11,
                itt_addr: 0x4100_0100,
                valid: true,
            },
            ItsCommand::Mapc {
                collection: 0,
                target: 1,
                valid: true,
            },
            ItsCommand::Mapti {
                device: 0x10,
                event: 7,
                intid: 8199,
                collection: 0,
            },
            ItsCommand::Movi {
                device: 0x10,
                event: 7,
                collection: 1,
            },
            ItsCommand::Discard {
                device: 0x10,
                event: 7,
            },
            ItsCommand::Inv {
                device: 0x10,
                event: 7,
            },
            ItsCommand::Invall { collection: 1 },
            ItsCommand::Sync { target: 1 },
            ItsCommand::Clear {
                device: 1,
                event: 2,
            },
            ItsCommand::Int {
                device: 1,
                event: 2,
            },
            ItsCommand::Movall { from: 0, to: 1 },
        ];
        for c in commands {
            assert_eq!(ItsCommand::decode(&c.encode()), c);
        }
    }

    #[test]
    fn unknown_and_gicv4_opcodes_are_unknown() {
        assert_eq!(
            ItsCommand::decode(&raw([0x2a, 0, 0, 0])),
            ItsCommand::Unknown { opcode: 0x2a }
        );
        assert_eq!(
            ItsCommand::decode(&raw([0xff, u64::MAX, u64::MAX, u64::MAX])),
            ItsCommand::Unknown { opcode: 0xff }
        );
    }
}
