//! Fuzz target: the guest's virtual ITS (`src/its`). The guest programs GITS_CBASER, CTLR and
//! CWRITER, writes 32-byte commands into its queue in guest memory (random bytes, well-formed
//! commands with fields near the edges of what it owns, and bit-flipped ones), and the queue
//! is drained exactly as the hypervisor's `run_commands` drains it: `pending_commands`,
//! `ItsCommand::decode`, `VirtualIts::execute`, `advance`. Nothing may panic; no effect and no
//! translation may ever name an LPI outside the guest's range, a vCPU it does not have, or a
//! DeviceID it does not own; what the guest mapped translates as it asked; a refused command
//! changes nothing. On the GICv4 path (`sluice::its::vpe`), the routes the hypervisor derives
//! from the vITS after each batch only ever name the guest's own vPEs and in-range virtual
//! LPIs, and the physical commands that move an event never panic and settle (a second
//! derivation issues nothing).

mod fuzz_support;

use fuzz_support::Rng;
use sluice::its::lpi::FIRST_LPI;
use sluice::its::vits::{ItsEffect, VirtualIts, MAX_EVENT_BITS};
use sluice::its::vpe::{self, Event, Route, Step, VirtualCommand};
use sluice::its::{ItsCommand, COMMAND_BYTES};
use std::collections::BTreeMap;

const GITS_CTLR: u64 = 0x0000;
const GITS_CBASER: u64 = 0x0080;
const GITS_CWRITER: u64 = 0x0088;
/// The guest RAM the model holds (the queue lives here; anything else is outside RAM).
const RAM_BASE: u64 = 0x4000_0000;
const RAM_BYTES: usize = 128 << 10;
const CBASER_VALID: u64 = 1 << 63;
/// Opcodes the ITS defines, so random commands hit them often.
const OPCODES: [u8; 12] = [
    0x01, 0x03, 0x04, 0x05, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
];

#[test]
fn virtual_its_never_panics_and_translates_only_what_the_guest_owns() {
    fuzz_support::run("its", |rng| {
        let mut guest = Guest::new(rng);
        if !rng.one_in(4) {
            guest.boot_like_linux(rng);
        }
        for _ in 0..rng.below(40) + 1 {
            guest.step(rng);
        }
        guest.check_translations();
    });
}

/// A guest with its virtual ITS, its RAM, and what it expects the ITS to hold.
struct Guest {
    its: VirtualIts,
    ram: Vec<u8>,
    vcpus: usize,
    lpi_count: u32,
    owned: Vec<u32>,
    /// Collection -> vCPU, as the accepted MAPC/MOVALL commands left it.
    collections: BTreeMap<u16, usize>,
    /// GICv4: where each (device, vector) of the physical ITS goes now.
    routes: BTreeMap<(u32, u32), Route>,
}

impl Guest {
    fn new(rng: &mut Rng) -> Self {
        let vcpus = rng.pick(&[1, 2, 2, 4, 8, 0]);
        let lpi_count = rng.pick(&[65536 - 8192, 64, 1, 0, u32::MAX - FIRST_LPI]);
        let owned: Vec<u32> = (0..rng.below(4) + u64::from(!rng.one_in(8)))
            .map(|_| {
                let any = rng.next_u32();
                rng.pick(&[0, 8, 0x10, 0xffff, any])
            })
            .collect();
        Self {
            its: VirtualIts::new(vcpus, lpi_count, owned.clone()),
            ram: vec![0; RAM_BYTES],
            vcpus,
            lpi_count,
            owned,
            collections: BTreeMap::new(),
            routes: BTreeMap::new(),
        }
    }

    fn step(&mut self, rng: &mut Rng) {
        match rng.below(10) {
            0 => self.program_queue(rng),
            1 => self.enable(rng),
            2 => self.register_access(rng),
            3 => self.check_translations(),
            _ => self.submit(rng),
        }
    }

    /// GITS_CBASER: a queue in RAM most of the time, anywhere otherwise.
    fn program_queue(&mut self, rng: &mut Rng) {
        let value = if rng.one_in(4) {
            rng.edgy_u64()
        } else {
            let page = rng.below(RAM_BYTES as u64 / 4096);
            CBASER_VALID | (RAM_BASE + page * 4096) | rng.below(4)
        };
        self.write(GITS_CBASER, value, rng);
    }

    fn enable(&mut self, rng: &mut Rng) {
        let value = if rng.one_in(10) { 0 } else { 1 };
        if self.its.write(GITS_CTLR, 4, value) == Some(true) {
            self.run_commands();
        }
    }

    /// Any register, any width, any value.
    fn register_access(&mut self, rng: &mut Rng) {
        let offset = match rng.below(3) {
            0 => rng.below(0x140),
            1 => rng.pick(&[0xffe8, 0x1_0040, 0x2_0000, u64::MAX]),
            _ => rng.next_u64(),
        };
        let width = rng.pick(&[4, 8, 1, 2, 0, 16]);
        if rng.coin() {
            let _ = self.its.read(offset, width);
        } else if self.its.write(offset, width, rng.edgy_u64()) == Some(true) {
            self.run_commands();
        }
    }

    /// A 64-bit register write, whole or as two halves (both are how guests write them).
    fn write(&mut self, offset: u64, value: u64, rng: &mut Rng) {
        let run = if rng.coin() {
            self.its.write(offset, 8, value)
        } else {
            let low = self.its.write(offset, 4, value & 0xffff_ffff);
            let high = self.its.write(offset + 4, 4, value >> 32);
            low.zip(high).map(|(a, b)| a || b)
        };
        if run == Some(true) {
            self.run_commands();
        }
    }

    /// What a driver does first, so that later commands find mapped collections and devices:
    /// a queue, the ITS on, every collection mapped, every owned device mapped.
    fn boot_like_linux(&mut self, rng: &mut Rng) {
        self.program_queue(rng);
        self.enable(rng);
        let mut setup: Vec<ItsCommand> = (0..self.vcpus)
            .map(|vcpu| ItsCommand::Mapc {
                collection: vcpu as u16,
                target: vcpu as u64,
                valid: true,
            })
            .collect();
        setup.extend(self.owned.iter().map(|&device| ItsCommand::Mapd {
            device,
            event_bits: rng.pick(&[1, 5, MAX_EVENT_BITS]),
            itt_addr: 0,
            valid: true,
        }));
        for chunk in setup.chunks(8) {
            let bytes: Vec<_> = chunk.iter().map(ItsCommand::encode).collect();
            self.queue_commands(&bytes, rng);
        }
    }

    /// Writes a few commands at the guest's write pointer and moves GITS_CWRITER past them.
    fn submit(&mut self, rng: &mut Rng) {
        let commands: Vec<_> = (0..rng.below(8) + 1).map(|_| self.command(rng)).collect();
        self.queue_commands(&commands, rng);
    }

    fn queue_commands(&mut self, commands: &[[u8; COMMAND_BYTES]], rng: &mut Rng) {
        let Some((base, size)) = self.its.queue() else {
            return self.program_queue(rng);
        };
        let mut at = self.its.read(GITS_CWRITER, 8).unwrap_or(0) % size;
        for command in commands {
            if let Some(slot) = self.ram_slot(base + at) {
                self.ram[slot..slot + COMMAND_BYTES].copy_from_slice(command);
            }
            at = (at + COMMAND_BYTES as u64) % size;
        }
        let cwriter = if rng.one_in(50) { rng.edgy_u64() } else { at };
        self.write(GITS_CWRITER, cwriter, rng);
    }

    fn ram_slot(&self, guest_phys: u64) -> Option<usize> {
        let offset = guest_phys.checked_sub(RAM_BASE)? as usize;
        (offset.checked_add(COMMAND_BYTES)? <= self.ram.len()).then_some(offset)
    }

    /// The hypervisor's loop over the guest's new commands (`src/hyp/guest/msi.rs`).
    fn run_commands(&mut self) {
        let pending = self.its.pending_commands();
        let (base, size) = self.its.queue().unwrap_or((0, 0));
        assert!(pending.len() as u64 <= size / COMMAND_BYTES as u64);
        for address in pending {
            let inside = address >= base && address - base < size;
            assert!(
                inside && (address - base) % COMMAND_BYTES as u64 == 0,
                "{address:#x}"
            );
            let Some(slot) = self.ram_slot(address) else {
                break; // outside guest memory: the hypervisor drops the rest of the queue
            };
            let bytes: [u8; COMMAND_BYTES] =
                self.ram[slot..slot + COMMAND_BYTES].try_into().unwrap();
            let command = ItsCommand::decode(&bytes);
            assert_eq!(
                ItsCommand::decode(&command.encode()),
                command,
                "{bytes:02x?}"
            );
            let before = format!("{:?}", self.its);
            match self.its.execute(command) {
                Ok(effects) => {
                    for effect in &effects {
                        self.check_effect(*effect, command);
                    }
                    self.expect_after(command);
                }
                Err(why) => {
                    let after = format!("{:?}", self.its);
                    assert_eq!(before, after, "{command:?} was refused ({why}) yet acted");
                }
            }
        }
        self.its.advance();
        self.sync_gicv4_routes(rng_free_data(&self.ram));
    }

    /// What `src/hyp/guest/vpe.rs` does after a batch: every vector of every owned device
    /// (the guest's MSI data for it taken from its RAM, as garbage as it likes) is routed where
    /// the vITS says; vPEs of odd vCPUs are "not mapped" here.
    fn sync_gicv4_routes(&mut self, data: Vec<u32>) {
        let vpe_of = |vcpu: usize| vcpu.is_multiple_of(2).then_some(vcpu as u16 + 100);
        for (d, &device) in self.owned.iter().enumerate() {
            for (vector, &message) in data.iter().enumerate() {
                let translated = self.its.translate(device, message);
                let to = vpe::desired_route(vector % 3 != 0, translated, vpe_of, 0);
                if let Route::Virtual { vintid, vpe } = to {
                    assert!(self.lpi_in_range(vintid) && vintid >> vpe::VPT_ID_BITS == 0);
                    assert!(vpe >= 100 && ((vpe - 100) as usize) < self.vcpus);
                    assert!(vpe.is_multiple_of(2), "{to:?}: a vPE that is not mapped");
                }
                let key = (d as u32, vector as u32);
                let from = self
                    .routes
                    .get(&key)
                    .copied()
                    .unwrap_or(Route::Physical { collection: 0 });
                let ev = Event {
                    device,
                    event: vector as u32,
                    lpi: FIRST_LPI + vector as u32,
                };
                for step in vpe::reroute(ev, from, to) {
                    let bytes = step.encode();
                    if let Step::Virtual(
                        VirtualCommand::Vmapti { vpe, .. } | VirtualCommand::Vmovi { vpe, .. },
                    ) = step
                    {
                        assert!(matches!(to, Route::Virtual { vpe: v, .. } if v == vpe));
                    }
                    assert_eq!(bytes.len(), COMMAND_BYTES);
                }
                assert!(vpe::reroute(ev, to, to).is_empty());
                self.routes.insert(key, to);
            }
        }
    }

    fn lpi_in_range(&self, intid: u32) -> bool {
        intid >= FIRST_LPI && intid - FIRST_LPI < self.lpi_count
    }

    fn check_effect(&self, effect: ItsEffect, command: ItsCommand) {
        let ok = match effect {
            ItsEffect::Route { intid, vcpu } | ItsEffect::Inject { intid, vcpu } => {
                self.lpi_in_range(intid) && vcpu < self.vcpus
            }
            ItsEffect::Unroute { intid }
            | ItsEffect::Reload { intid }
            | ItsEffect::Clear { intid } => self.lpi_in_range(intid),
        };
        assert!(ok, "{command:?} gave {effect:?} (vcpus {})", self.vcpus);
    }

    /// What an accepted command must have done, as far as the guest can tell.
    fn expect_after(&mut self, command: ItsCommand) {
        match command {
            ItsCommand::Mapc {
                collection,
                target,
                valid,
            } => {
                if valid {
                    self.collections.insert(collection, target as usize);
                } else {
                    self.collections.remove(&collection);
                }
            }
            ItsCommand::Movall { from, to } => {
                for vcpu in self.collections.values_mut() {
                    if *vcpu == from as usize {
                        *vcpu = to as usize;
                    }
                }
            }
            ItsCommand::Mapti {
                device,
                event,
                intid,
                collection,
            } => {
                let expected = self.collections.get(&collection).map(|&v| (intid, v));
                assert_eq!(self.its.translate(device, event), expected, "{command:?}");
            }
            ItsCommand::Discard { device, event } => {
                assert_eq!(self.its.translate(device, event), None, "{command:?}");
            }
            ItsCommand::Mapd { device, .. } => {
                let any =
                    (0..1u32 << MAX_EVENT_BITS).any(|e| self.its.translate(device, e).is_some());
                assert!(!any, "{command:?} left events mapped");
            }
            _ => {}
        }
    }

    /// Every translation the ITS holds: an owned DeviceID, an LPI in range, a real vCPU.
    fn check_translations(&self) {
        for &device in &self.owned {
            for event in (0..1u32 << MAX_EVENT_BITS).chain([1 << MAX_EVENT_BITS, u32::MAX]) {
                if let Some((intid, vcpu)) = self.its.translate(device, event) {
                    assert!(event >> MAX_EVENT_BITS == 0, "{device:#x}/{event:#x}");
                    assert!(
                        self.lpi_in_range(intid) && vcpu < self.vcpus,
                        "{intid} {vcpu}"
                    );
                }
            }
        }
        for device in [0, 1, 8, 0x10, 0xffff, 0x1_0000, u32::MAX] {
            if !self.owned.contains(&device) {
                assert_eq!(
                    self.its.translate(device, 0),
                    None,
                    "{device:#x} is not owned"
                );
            }
        }
    }

    /// One command's bytes: random, well-formed near the edges, or well-formed then mutated.
    fn command(&self, rng: &mut Rng) -> [u8; COMMAND_BYTES] {
        let mut bytes = [0u8; COMMAND_BYTES];
        match rng.below(5) {
            0 => {
                rng.fill(&mut bytes);
                if rng.coin() {
                    bytes[0] = rng.pick(&OPCODES);
                }
            }
            1 | 2 => bytes = self.well_formed(rng).encode(),
            _ => {
                bytes = self.well_formed(rng).encode();
                for _ in 0..rng.below(3) + 1 {
                    let bit = rng.index(8 * COMMAND_BYTES);
                    bytes[bit / 8] ^= 1 << (bit % 8);
                }
            }
        }
        bytes
    }

    fn well_formed(&self, rng: &mut Rng) -> ItsCommand {
        let device = match self.owned.is_empty() || rng.one_in(5) {
            true => rng.next_u32(),
            false => rng.pick(&self.owned),
        };
        let event = match rng.below(3) {
            0 => rng.pick(&[0, 1, 31, 2047, 2048, u32::MAX]),
            1 => rng.next_u32() & 0x7ff,
            _ => rng.next_u32() & 0x1f,
        };
        let last_lpi = FIRST_LPI.saturating_add(self.lpi_count);
        let intid = rng.pick(&[FIRST_LPI, last_lpi.wrapping_sub(1), last_lpi, 0, u32::MAX]);
        let in_range = FIRST_LPI.wrapping_add(rng.next_u32() % self.lpi_count.clamp(1, 64));
        let intid = if rng.coin() { in_range } else { intid };
        let past_the_end = u64::from(rng.one_in(3));
        let collection = rng.below(self.vcpus as u64 + past_the_end + 1) as u16;
        let target = rng.below(self.vcpus as u64 + 2);
        match rng.below(12) {
            0 | 1 => ItsCommand::Mapd {
                device,
                event_bits: rng.pick(&[1, 5, 11, 12, 32]),
                itt_addr: rng.next_u64(),
                valid: !rng.one_in(4),
            },
            2 | 3 => ItsCommand::Mapc {
                collection,
                target,
                valid: !rng.one_in(4),
            },
            4..=6 => ItsCommand::Mapti {
                device,
                event,
                intid,
                collection,
            },
            7 => ItsCommand::Movi {
                device,
                event,
                collection,
            },
            8 => ItsCommand::Discard { device, event },
            9 => rng.pick(&[
                ItsCommand::Inv { device, event },
                ItsCommand::Int { device, event },
                ItsCommand::Clear { device, event },
            ]),
            10 => rng.pick(&[
                ItsCommand::Invall { collection },
                ItsCommand::Sync { target },
            ]),
            _ => ItsCommand::Movall {
                from: target,
                to: rng.below(self.vcpus as u64 + 2),
            },
        }
    }
}

/// The MSI data of 8 vectors: EventIDs 0..4 as a driver writes them, then four words from the
/// start of the guest's RAM (often its command queue: garbage as far as MSIs go).
fn rng_free_data(ram: &[u8]) -> Vec<u32> {
    let garbage = ram
        .chunks_exact(4)
        .take(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    (0..4).chain(garbage).collect()
}
