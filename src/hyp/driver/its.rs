//! The physical ITS, which sluice owns: its tables and command queue, the LPI property and
//! pending tables of the redistributors, and the device/event -> LPI mappings of every
//! assigned function (IHI 0069 chapters 5 and 12.19).

use crate::arch::mmio::MmioBase;
use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
use sluice::gicv3::its::{
    CWRITER_OFFSET_MASK, GITS_BASER, GITS_CBASER, GITS_CREADR, GITS_CTLR, GITS_CTLR as CTLR,
    GITS_CWRITER, GITS_TRANSLATER, GITS_TYPER, GITS_TYPER as TYPER,
};
use sluice::gicv3::its::{GITS_BASER as BASER, GITS_CBASER as CBASER};
use sluice::gicv3::redist::LPI_CONFIG;
use sluice::its::lpi::{LpiAllocator, FIRST_LPI};
use sluice::its::{ItsCommand, COMMAND_BYTES};
use sluice::mm::PhysRange;
use spin::Mutex;
use tock_registers::fields::FieldValue;

use super::vpe::Gicv4;
use sluice::gicv3::redist::{GICR_TYPER, GICR_TYPER as RTYPER};

/// CPUs sluice drives (one collection each).
const MAX_CPUS: usize = crate::hyp::leaf::cpus::MAX_CPUS;

/// How long the ITS may take to go quiescent or to consume commands; longer is a broken ITS.
const ITS_TIMEOUT_MS: u64 = 1000;
const PAGE: usize = 4096;
const QUEUE_BYTES: usize = 64 << 10;
/// INTID bits sluice's LPI tables cover: LPIs 8192..16383.
pub const LPI_ID_BITS: u32 = 14;
/// LPI priority sluice programs (same as its other interrupts).
const LPI_PRIORITY: u8 = 0xa0;

/// Zeroed heap memory for a GIC table, handed to the GIC for ever.
pub(super) fn alloc_table(bytes: usize, align: usize) -> u64 {
    alloc_aligned(bytes, align)
}

fn alloc_aligned(bytes: usize, align: usize) -> u64 {
    let layout = table_layout(bytes, align);
    // SAFETY: non-zero size; the memory is handed to the GIC for ever.
    let ptr = unsafe { alloc_zeroed(layout) };
    assert!(!ptr.is_null(), "out of heap for ITS tables ({bytes} bytes)");
    ptr as u64
}

fn table_layout(bytes: usize, align: usize) -> Layout {
    Layout::from_size_align(bytes, align).expect("ITS table layout")
}

/// ITT alignment sluice uses (the architecture needs 256 bytes).
const ITT_ALIGN: usize = 256;

/// The physical ITS.
pub struct PhysicalIts {
    regs: MmioBase,
    /// The ITS frame.
    pub frame: PhysRange,
    queue: u64,
    write_offset: Mutex<usize>,
    itt_entry_bytes: usize,
    /// LPIs handed to assigned functions.
    pub lpis: Mutex<LpiAllocator>,
    /// The LPI property table every redistributor uses.
    pub prop_table: u64,
    /// Collections: one per physical CPU, numbered by CPU index, holding that CPU's
    /// redistributor as MAPC wants it (None until the CPU is up).
    collection_targets: Mutex<[Option<u64>; MAX_CPUS]>,
    /// The boot CPU's collection, where events start.
    home_collection: AtomicUsize,
    /// The collection each of sluice's LPIs is in now (index: LPI - 8192).
    lpi_collections: Mutex<Vec<u8>>,
    /// Interrupt translation tables of mapped devices: (DeviceID, address, bytes).
    itts: Mutex<Vec<(u32, u64, usize)>>,
    /// GICv4.0 direct injection, when the ITS has GITS_TYPER.Virtual.
    pub(super) v4: Option<Gicv4>,
}

impl PhysicalIts {
    /// Resets the ITS, gives it device and collection tables and a command queue, and
    /// enables it.
    pub fn init(frame: PhysRange) -> Self {
        // SAFETY: the DT's ITS frame, identity-mapped as Device memory by the EL2 map.
        let regs = unsafe { MmioBase::new(frame.start as usize) };
        regs.write32(GITS_CTLR, 0);
        if !crate::arch::cpu::spin_while(ITS_TIMEOUT_MS, || {
            !CTLR::Quiescent.is_set(regs.read32(GITS_CTLR))
        }) {
            log::error!("ITS {frame}: not quiescent {ITS_TIMEOUT_MS} ms after being disabled");
        }
        let typer = regs.read64(GITS_TYPER);
        let itt_entry_bytes = TYPER::ITT_entry_size.read(typer) as usize + 1;
        let device_bits = TYPER::Devbits.read(typer) as u32 + 1;
        for n in 0..8 {
            provision_table(&regs, GITS_BASER + 8 * n, device_bits);
        }
        let queue = alloc_aligned(QUEUE_BYTES, 64 << 10);
        let cbaser = CBASER::Valid::SET
            + CBASER::InnerCache::NormalWaRaWb
            + CBASER::Shareability::InnerShareable
            + CBASER::Size.val((QUEUE_BYTES / PAGE - 1) as u64);
        regs.write64(GITS_CBASER, cbaser.value | queue);
        regs.write64(GITS_CWRITER, 0);
        regs.write32(GITS_CTLR, CTLR::Enabled::SET.value);
        let prop_bytes = (1usize << LPI_ID_BITS) - FIRST_LPI as usize;
        let prop_table = alloc_aligned(prop_bytes, 64 << 10);
        let config = LPI_CONFIG::Enable::SET.value | LPI_PRIORITY;
        // SAFETY: just allocated, `prop_bytes` long, owned by sluice.
        unsafe { core::ptr::write_bytes(prop_table as *mut u8, config, prop_bytes) };
        crate::arch::cpu::clean_dcache_range(prop_table, prop_bytes as u64);
        log::info!(
            "ITS {frame}: {} LPIs, DeviceID bits {device_bits}",
            prop_bytes
        );
        let v4 = TYPER::Virtual.is_set(typer).then(Gicv4::default);
        if v4.is_some() {
            log::info!("GICv4: direct virtual LPI injection (MSIs of assigned functions reach the vCPU without an exit)");
        } else {
            log::info!("GICv3: virtual LPIs through list registers");
        }
        Self {
            regs,
            frame,
            queue,
            write_offset: Mutex::new(0),
            itt_entry_bytes,
            lpis: Mutex::new(LpiAllocator::new(prop_bytes as u32)),
            prop_table,
            collection_targets: Mutex::new([None; MAX_CPUS]),
            home_collection: AtomicUsize::new(0),
            lpi_collections: Mutex::new(alloc::vec![0; prop_bytes]),
            itts: Mutex::new(Vec::new()),
            v4,
        }
    }

    /// A zeroed pending table for one redistributor (64 KiB aligned).
    pub fn new_pending_table() -> u64 {
        alloc_aligned((1usize << LPI_ID_BITS) / 8, 64 << 10)
    }

    /// The MSI doorbell devices write to.
    pub fn doorbell(&self) -> u64 {
        self.frame.start + GITS_TRANSLATER as u64
    }

    /// Maps collection `cpu_index` to that CPU's redistributor (`target` as GITS_TYPER.PTA
    /// wants); the boot CPU's (`home`) is where every event starts.
    pub fn map_cpu_collection(
        &self,
        cpu_index: usize,
        processor_number: u64,
        rd_base: u64,
        home: bool,
    ) {
        let pta = TYPER::PTA.is_set(self.regs.read64(GITS_TYPER));
        let target = if pta { rd_base >> 16 } else { processor_number };
        match self.collection_targets.lock().get_mut(cpu_index) {
            Some(slot) => *slot = Some(target),
            None => return,
        }
        if home {
            self.home_collection.store(cpu_index, Ordering::Release);
        }
        if let Some(v4) = &self.v4 {
            // SAFETY: `rd_base` is this CPU's redistributor, found in the DT's regions, which
            // the EL2 map covers as Device memory.
            let rd = unsafe { MmioBase::new(rd_base as usize) };
            if RTYPER::VLPIS.is_set(rd.read64(GICR_TYPER)) {
                v4.add_cpu(cpu_index, target, rd_base);
            } else {
                log::warn!("GICv4: CPU {cpu_index}'s redistributor has no VLPIS: its vCPU takes MSIs through list registers");
            }
        }
        self.submit(&[
            ItsCommand::Mapc {
                collection: cpu_index as u16,
                target,
                valid: true,
            },
            ItsCommand::Sync { target },
        ]);
    }

    /// The redistributor target of collection `index`, or the home collection's.
    pub(super) fn target_of(&self, index: usize) -> u64 {
        let targets = self.collection_targets.lock();
        targets
            .get(index)
            .copied()
            .flatten()
            .or(targets[self.home_collection.load(Ordering::Acquire)])
            .unwrap_or(0)
    }

    /// Makes event `event` of `device` (physical LPI `lpi`) arrive on physical CPU `cpu_index`
    /// from now on (MOVI), unless it already does or that CPU has no collection. The vCPU the
    /// guest aims an interrupt at runs there, so it is injected without a kick.
    pub fn route_event(&self, device: u32, event: u32, lpi: u32, cpu_index: usize) {
        let Some(slot) = lpi.checked_sub(FIRST_LPI) else {
            return;
        };
        let mut collections = self.lpi_collections.lock();
        let Some(current) = collections.get_mut(slot as usize) else {
            return;
        };
        let has_collection = matches!(self.collection_targets.lock().get(cpu_index), Some(Some(_)));
        if *current as usize == cpu_index || !has_collection || self.is_direct(device, event) {
            return;
        }
        let old_target = self.target_of(*current as usize);
        *current = cpu_index as u8;
        drop(collections);
        self.submit(&[
            ItsCommand::Movi {
                device,
                event,
                collection: cpu_index as u16,
            },
            ItsCommand::Sync { target: old_target },
        ]);
    }

    /// Maps events 0..count of `device` to the LPIs from `first_lpi` in the home collection.
    pub fn map_device(&self, device: u32, first_lpi: u32, count: u32) {
        let event_bits = (32 - (count.max(2) - 1).leading_zeros()) as u8;
        let itt_bytes = ((1usize << event_bits) * self.itt_entry_bytes).max(ITT_ALIGN);
        let itt = alloc_aligned(itt_bytes, ITT_ALIGN);
        self.itts.lock().push((device, itt, itt_bytes));
        let home = self.home_collection.load(Ordering::Acquire);
        let target = self.target_of(home);
        let mut collections = self.lpi_collections.lock();
        for lpi in first_lpi..first_lpi + count {
            if let Some(c) = collections.get_mut((lpi - FIRST_LPI) as usize) {
                *c = home as u8;
            }
        }
        drop(collections);
        let mut commands = alloc::vec![ItsCommand::Mapd {
            device,
            event_bits,
            itt_addr: itt,
            valid: true
        }];
        commands.extend((0..count).map(|event| ItsCommand::Mapti {
            device,
            event,
            intid: first_lpi + event,
            collection: home as u16,
        }));
        commands.push(ItsCommand::Sync { target });
        self.submit(&commands);
    }

    /// Unmaps `device` (MAPD with V = 0: its events raise nothing from now on) and frees its
    /// interrupt translation table.
    pub fn unmap_device(&self, device: u32) {
        self.forget_device_routes(device);
        let target = self.target_of(self.home_collection.load(Ordering::Acquire));
        self.submit(&[
            ItsCommand::Mapd {
                device,
                event_bits: 1,
                itt_addr: 0,
                valid: false,
            },
            ItsCommand::Sync { target },
        ]);
        let mut itts = self.itts.lock();
        if let Some(i) = itts.iter().position(|&(d, _, _)| d == device) {
            let (_, addr, bytes) = itts.swap_remove(i);
            // SAFETY: `addr` came from `alloc_aligned(bytes, ITT_ALIGN)` in `map_device`, and
            // the ITS no longer uses it: the MAPD V=0 above completed (SYNC waited for it).
            unsafe { dealloc(addr as *mut u8, table_layout(bytes, ITT_ALIGN)) };
        }
    }

    /// The collection sluice's LPI `lpi` is in now.
    pub(super) fn collection_of(&self, lpi: u32) -> u16 {
        let slot = lpi.saturating_sub(FIRST_LPI) as usize;
        self.lpi_collections.lock().get(slot).copied().unwrap_or(0) as u16
    }

    /// Writes commands to the queue and waits until the ITS has consumed them.
    fn submit(&self, commands: &[ItsCommand]) {
        self.submit_encoded(commands.iter().map(ItsCommand::encode));
    }

    /// Writes encoded commands to the queue and waits until the ITS has consumed them.
    pub(super) fn submit_encoded(&self, commands: impl Iterator<Item = [u8; COMMAND_BYTES]>) {
        let mut offset = self.write_offset.lock();
        for bytes in commands {
            let slot = self.queue + *offset as u64;
            // SAFETY: `slot` lies inside the queue sluice allocated (offset < QUEUE_BYTES,
            // wraps below); only this function writes it, under the lock.
            unsafe {
                core::ptr::copy_nonoverlapping(bytes.as_ptr(), slot as *mut u8, COMMAND_BYTES)
            };
            crate::arch::cpu::clean_dcache_range(slot, COMMAND_BYTES as u64);
            *offset = (*offset + COMMAND_BYTES) % QUEUE_BYTES;
        }
        self.regs.write64(GITS_CWRITER, *offset as u64);
        let consumed = crate::arch::cpu::spin_while(ITS_TIMEOUT_MS, || {
            (self.regs.read64(GITS_CREADR) & CWRITER_OFFSET_MASK) as usize != *offset
        });
        if !consumed {
            log::error!("ITS: commands not consumed within {ITS_TIMEOUT_MS} ms");
        }
    }
}

/// Gives a GITS_BASER its flat table (device tables sized for `device_bits`).
fn provision_table(regs: &MmioBase, offset: usize, device_bits: u32) {
    let baser = regs.read64(offset);
    let entries = match BASER::Type.read_as_enum(baser) {
        None | Some(BASER::Type::Value::Unimplemented) => return,
        Some(BASER::Type::Value::Devices) => 1usize << device_bits.min(16),
        Some(_) => 256,
    };
    let entry_bytes = BASER::Entry_Size.read(baser) as usize + 1;
    let pages = (entries * entry_bytes).div_ceil(PAGE).clamp(1, 256);
    let table = alloc_aligned(pages * PAGE, 64 << 10);
    let keep: FieldValue<u64, BASER::Register> = BASER::Type::SET + BASER::Entry_Size::SET;
    let value = BASER::Valid::SET
        + BASER::InnerCache::NormalWaRaWb
        + BASER::Shareability::InnerShareable
        + BASER::Size.val((pages - 1) as u64);
    regs.write64(offset, value.value | (baser & keep.mask()) | table);
}
