//! The host's SMMUv3, driven with stage 2 only; the guest never sees it.
//!
//! Every stream aborts (an abort STE in every slot of a linear stream table sized to the
//! requester IDs the host buses can produce) except the streams of functions assigned to the
//! guest, whose DMA is translated by a mirror of the guest's stage 2: its RAM plus the ITS
//! doorbell page, so that MSI writes still reach the ITS. Faults come back on the event queue
//! (wired interrupt): each is logged with stream, address and reason, and a device that keeps
//! faulting loses bus mastering. The encodings are in `sluice::smmu`; this file only moves
//! them to and from the hardware.

use crate::arch::{cpu, mmio::MmioBase};
use alloc::alloc::{alloc_zeroed, Layout};
use alloc::vec::Vec;
use core::fmt;
use sluice::mm::PhysRange;
use sluice::platform::{SmmuNode, WiredIrq};
use sluice::ratelimit::{RateLimiter, Verdict};
use sluice::smmu::event::GERROR_CMDQ_ERR;
use sluice::smmu::queue::{eventq_cons_value, eventq_overflowed};
use sluice::smmu::regs::{self, Cr1, StreamTable};
use sluice::smmu::{
    Command, CommandError, Event, Features, GlobalErrors, QueueIndex, S2Config, SmmuError, Ste,
};
use spin::Mutex;

/// 256 commands (4 KiB): sluice issues a handful at a time.
const CMDQ_LOG2_ENTRIES: u8 = 8;
/// 256 event records (8 KiB).
const EVENTQ_LOG2_ENTRIES: u8 = 8;
/// Polls of an acknowledge register or of CMDQ_CONS before giving up on the SMMU.
const POLL_LIMIT: u32 = 10_000_000;
/// Fault lines logged per second at most (a faulting device must not flood the console).
const LOGGED_FAULTS_PER_SECOND: u32 = 16;
/// Faults a stream may cause before sluice turns its device's bus mastering off.
pub const FAULTS_BEFORE_STOP: u32 = 16;

/// Why the SMMU cannot isolate DMA.
#[derive(Debug)]
pub enum SmmuSetupError {
    /// The SMMU cannot be used as sluice needs (no stage 2, formats, sizes).
    Unsupported(SmmuError),
    /// A register did not acknowledge a change.
    NoAck(&'static str),
    /// No heap for tables or queues.
    NoMemory,
    /// A command failed.
    Command(CommandError),
    /// A StreamID beyond the stream table.
    StreamOutOfRange(u32),
}

impl fmt::Display for SmmuSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported(e) => write!(f, "{e}"),
            Self::NoAck(what) => write!(f, "{what} not acknowledged"),
            Self::NoMemory => write!(f, "no memory for the stream table or queues"),
            Self::Command(e) => write!(f, "command failed: {e}"),
            Self::StreamOutOfRange(sid) => write!(f, "stream {sid:#x} is beyond the stream table"),
        }
    }
}

impl From<SmmuError> for SmmuSetupError {
    fn from(e: SmmuError) -> Self {
        Self::Unsupported(e)
    }
}

type Result<T> = core::result::Result<T, SmmuSetupError>;

/// One SMMUv3 and the structures sluice gave it.
pub struct Smmu {
    regs: MmioBase,
    /// Its register frame.
    pub frame: PhysRange,
    /// What its ID registers say.
    pub features: Features,
    /// Whether its table walks and queue accesses snoop the CPU caches.
    pub coherent: bool,
    /// Its phandle, which the PCI hosts' `iommu-map` names.
    pub phandle: Option<u32>,
    /// Wired interrupts sluice takes: event queue, global errors (or one combined line).
    pub irqs: Vec<WiredIrq>,
    state: Mutex<State>,
}

struct State {
    stream_table: Option<StreamTable>,
    cmdq: Ring,
    eventq: Ring,
    /// Faults seen per stream: (StreamID, count).
    faults: Vec<(u32, u32)>,
    log_limit: RateLimiter,
}

/// A queue in memory and sluice's copy of its producer (commands) or consumer (events) index.
struct Ring {
    phys: u64,
    index: QueueIndex,
    entry_bytes: u64,
    position: u32,
}

impl Ring {
    fn new(log2_entries: u8, entry_bytes: u64) -> Result<Self> {
        let index = QueueIndex::new(log2_entries).ok_or(SmmuSetupError::NoMemory)?;
        let phys = alloc_table(entry_bytes << log2_entries)?;
        Ok(Self {
            phys,
            index,
            entry_bytes,
            position: 0,
        })
    }

    fn slot_phys(&self, index: u32) -> u64 {
        self.phys + self.index.slot(index) as u64 * self.entry_bytes
    }
}

/// Zeroed heap memory aligned to its size (what stream tables and queues need); never freed.
fn alloc_table(bytes: u64) -> Result<u64> {
    let bytes = bytes.max(64) as usize;
    let layout = Layout::from_size_align(bytes, bytes).map_err(|_| SmmuSetupError::NoMemory)?;
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc_zeroed(layout) };
    if ptr.is_null() {
        return Err(SmmuSetupError::NoMemory);
    }
    Ok(ptr as u64)
}

impl Smmu {
    /// Reads the SMMU's features and makes sure it aborts all DMA until `enable`: translation
    /// off (whatever firmware left on) and global bypass set to abort.
    pub fn probe(node: &SmmuNode) -> Result<Self> {
        // SAFETY: the DT names this frame as an SMMUv3; `boot::host::enable_identity_map` maps
        // it as Device memory and nothing else drives it.
        let regs = unsafe { MmioBase::new(node.regs.start as usize) };
        let features = Features::from_idrs(
            regs.read32(regs::IDR0),
            regs.read32(regs::IDR1),
            regs.read32(regs::IDR3),
            regs.read32(regs::IDR5),
        );
        features.check_stage2()?;
        let smmu = Self {
            regs,
            frame: node.regs,
            coherent: features.coherent_access && node.dma_coherent,
            features,
            phandle: node.phandle,
            irqs: [node.irqs.eventq, node.irqs.gerror, node.irqs.combined]
                .into_iter()
                .flatten()
                .collect(),
            state: Mutex::new(State {
                stream_table: None,
                cmdq: Ring::new(CMDQ_LOG2_ENTRIES, regs::CMDQ_ENTRY_BYTES)?,
                eventq: Ring::new(EVENTQ_LOG2_ENTRIES, regs::EVENTQ_ENTRY_BYTES)?,
                faults: Vec::new(),
                log_limit: RateLimiter::new(cpu::counter_hz(), LOGGED_FAULTS_PER_SECOND),
            }),
        };
        smmu.write_cr0(0)?;
        smmu.regs.write32(regs::GBPA, regs::GBPA_ABORT_ALL);
        smmu.poll("GBPA update", || {
            smmu.regs.read32(regs::GBPA) & regs::GBPA_UPDATE == 0
        })?;
        Ok(smmu)
    }

    /// Turns translation on with every StreamID up to `max_stream_id` aborting: stream table,
    /// command and event queues, interrupts, then SMMUEN.
    pub fn enable(&self, max_stream_id: u32) -> Result<()> {
        let log2_entries = (32 - max_stream_id.leading_zeros()) as u8;
        let table_bytes = regs::STE_BYTES << log2_entries;
        let table = StreamTable::linear(alloc_table(table_bytes)?, log2_entries, &self.features)?;
        for sid in 0..1u32 << log2_entries {
            self.write_ste_words(&table, sid, &Ste::abort());
        }
        let mut state = self.state.lock();
        state.stream_table = Some(table);
        let r = &self.regs;
        r.write32(regs::CR1, Cr1::for_coherency(self.coherent).bits());
        r.write32(regs::CR2, regs::CR2_SLUICE);
        r.write64(regs::STRTAB_BASE, table.base());
        r.write32(regs::STRTAB_BASE_CFG, table.base_cfg());
        let cmdq = &state.cmdq;
        let cmdq_log2 = cmdq.index.entries().trailing_zeros() as u8;
        r.write64(
            regs::CMDQ_BASE,
            regs::cmdq_base(cmdq.phys, cmdq_log2, &self.features)?,
        );
        r.write32(regs::CMDQ_PROD, 0);
        r.write32(regs::CMDQ_CONS, 0);
        let eventq = &state.eventq;
        let eventq_log2 = eventq.index.entries().trailing_zeros() as u8;
        r.write64(
            regs::EVENTQ_BASE,
            regs::eventq_base(eventq.phys, eventq_log2, &self.features)?,
        );
        r.write32(regs::EVENTQ_PROD, 0);
        r.write32(regs::EVENTQ_CONS, 0);
        self.write_cr0(regs::CR0_CMDQEN)?;
        self.submit(&mut state, &[Command::cfgi_all(), Command::tlbi_nsnh_all()])?;
        self.write_cr0(regs::CR0_CMDQEN | regs::CR0_EVENTQEN)?;
        // Wired interrupts only: no MSI address for either.
        r.write64(regs::EVENTQ_IRQ_CFG0, 0);
        r.write64(regs::GERROR_IRQ_CFG0, 0);
        r.write32(
            regs::IRQ_CTRL,
            regs::IRQ_CTRL_GERROR_IRQEN | regs::IRQ_CTRL_EVENTQ_IRQEN,
        );
        self.poll("IRQ_CTRL", || {
            r.read32(regs::IRQ_CTRLACK) & 0x7
                == regs::IRQ_CTRL_GERROR_IRQEN | regs::IRQ_CTRL_EVENTQ_IRQEN
        })?;
        self.write_cr0(regs::CR0_CMDQEN | regs::CR0_EVENTQEN | regs::CR0_SMMUEN)?;
        log::info!(
            "smmu {}: stage 2 on, {} stream table entries (all abort), {}-bit output, {}",
            self.frame,
            1u32 << log2_entries,
            self.features.output_address_bits,
            if self.coherent {
                "coherent"
            } else {
                "non-coherent"
            }
        );
        Ok(())
    }

    /// Points stream `sid` at a stage 2 (the guest's DMA view). The STE goes invalid first, so
    /// the SMMU never sees half an entry.
    pub fn attach(&self, sid: u32, s2: &S2Config) -> Result<()> {
        let mut state = self.state.lock();
        let table = self.table_for(&state, sid)?;
        self.write_word(&table, sid, 0, 0);
        self.submit(&mut state, &[Command::cfgi_ste(sid, true)])?;
        self.write_ste_words(&table, sid, &Ste::stage2(s2));
        state.faults.retain(|&(s, _)| s != sid);
        self.submit(&mut state, &[Command::cfgi_ste(sid, true)])
    }

    /// Makes stream `sid` abort again and drops whatever the SMMU cached for `vmid`.
    pub fn detach(&self, sid: u32, vmid: u16) -> Result<()> {
        let mut state = self.state.lock();
        let table = self.table_for(&state, sid)?;
        // Word 0 alone turns the entry into an abort entry: one single-copy-atomic write.
        self.write_word(&table, sid, 0, Ste::abort().0[0]);
        self.submit(
            &mut state,
            &[Command::cfgi_ste(sid, true), Command::tlbi_s12_vmall(vmid)],
        )?;
        self.write_ste_words(&table, sid, &Ste::abort());
        Ok(())
    }

    /// Whether `intid` is one of this SMMU's interrupts.
    pub fn owns_intid(&self, intid: u32) -> bool {
        self.irqs.iter().any(|i| i.intid == intid)
    }

    /// Handles the SMMU's interrupts: drains the event queue (faults) and reports global
    /// errors. Returns the streams that have just reached `FAULTS_BEFORE_STOP` faults (each
    /// once): the caller stops their devices.
    #[must_use]
    pub fn handle_interrupt(&self) -> Vec<u32> {
        self.report_global_errors();
        let mut to_stop = Vec::new();
        self.drain_events(&mut to_stop);
        to_stop
    }

    fn drain_events(&self, to_stop: &mut Vec<u32>) {
        let mut state = self.state.lock();
        let prod = self.regs.read32(regs::EVENTQ_PROD);
        if eventq_overflowed(prod, self.regs.read32(regs::EVENTQ_CONS)) {
            log::warn!("smmu: event queue overflowed; some faults were not recorded");
        }
        let index = state.eventq.index;
        let mut cons = state.eventq.position;
        while !index.is_empty(prod, cons) {
            let record = self.read_event(&state.eventq, cons);
            cons = index.advance(cons);
            let event = Event::decode(record);
            let count = count_fault(&mut state.faults, event.stream_id);
            if let Verdict::Log { suppressed } = state.log_limit.check(cpu::counter()) {
                log::warn!(
                    "smmu: {event} (fault {count} of stream {:#x}{})",
                    event.stream_id,
                    Suppressed(suppressed)
                );
            }
            if count == FAULTS_BEFORE_STOP {
                to_stop.push(event.stream_id);
            }
        }
        state.eventq.position = cons;
        self.regs
            .write32(regs::EVENTQ_CONS, eventq_cons_value(cons, prod));
    }

    fn read_event(&self, ring: &Ring, index: u32) -> [u64; 4] {
        let slot = ring.slot_phys(index);
        if !self.coherent {
            cpu::clean_invalidate_dcache_range(slot, ring.entry_bytes);
        }
        // SAFETY: `slot` is an entry of the event queue sluice allocated (slot < entries), which
        // the SMMU writes and only this function reads, under the state lock.
        core::array::from_fn(|i| unsafe { core::ptr::read_volatile((slot as *const u64).add(i)) })
    }

    fn report_global_errors(&self) {
        let active = self.regs.read32(regs::GERROR) ^ self.regs.read32(regs::GERRORN);
        if active == 0 {
            return;
        }
        let errors = GlobalErrors::from(active);
        log::error!("smmu: global error: {errors}");
        if errors.contains(GERROR_CMDQ_ERR) {
            let cons = self.regs.read32(regs::CMDQ_CONS);
            if let Some(e) = CommandError::from_cons(cons) {
                log::error!("smmu: command queue stopped: {e}");
            }
        }
        // Acknowledge by making GERRORN equal GERROR for the reported bits.
        self.regs
            .write32(regs::GERRORN, self.regs.read32(regs::GERRORN) ^ active);
    }

    fn table_for(&self, state: &State, sid: u32) -> Result<StreamTable> {
        let table = state
            .stream_table
            .ok_or(SmmuSetupError::NoAck("stream table"))?;
        if sid >> table.log2_entries != 0 {
            return Err(SmmuSetupError::StreamOutOfRange(sid));
        }
        Ok(table)
    }

    fn write_ste_words(&self, table: &StreamTable, sid: u32, ste: &Ste) {
        // Word 0 (valid bit and config) last, so a reader never sees a valid partial entry.
        for word in (1..8).chain(0..1) {
            self.write_word(table, sid, word, ste.0[word]);
        }
    }

    fn write_word(&self, table: &StreamTable, sid: u32, word: usize, value: u64) {
        let addr = table.phys + u64::from(sid) * regs::STE_BYTES + word as u64 * 8;
        // SAFETY: `sid` is inside the table (checked by `table_for` or bounded by `enable`), so
        // `addr` is a word of the stream table sluice allocated and only it writes.
        unsafe { core::ptr::write_volatile(addr as *mut u64, value) };
        if !self.coherent {
            cpu::clean_dcache_range(addr, 8);
        }
    }

    /// Writes `commands` and a CMD_SYNC, then waits until the SMMU has consumed them all.
    fn submit(&self, state: &mut State, commands: &[Command]) -> Result<()> {
        let ring = &mut state.cmdq;
        for command in commands.iter().chain(&[Command::sync()]) {
            self.poll("command queue space", || {
                ring.index
                    .free(ring.position, self.regs.read32(regs::CMDQ_CONS))
                    > 0
            })?;
            let slot = ring.slot_phys(ring.position);
            for (i, word) in command.0.iter().enumerate() {
                // SAFETY: `slot` is a free entry of the command queue sluice allocated; only
                // this function writes it, under the state lock.
                unsafe { core::ptr::write_volatile((slot as *mut u64).add(i), *word) };
            }
            if !self.coherent {
                cpu::clean_dcache_range(slot, ring.entry_bytes);
            }
            ring.position = ring.index.advance(ring.position);
        }
        // SAFETY: a barrier orders the queue writes before the PROD update; no memory effect.
        unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
        self.regs.write32(regs::CMDQ_PROD, ring.position);
        let prod = ring.position;
        let mut failed = None;
        self.poll("CMD_SYNC", || {
            let cons = self.regs.read32(regs::CMDQ_CONS);
            failed = CommandError::from_cons(cons);
            failed.is_some() || ring.index.is_empty(prod, cons)
        })?;
        match failed {
            Some(e) => {
                self.report_global_errors();
                Err(SmmuSetupError::Command(e))
            }
            None => Ok(()),
        }
    }

    fn write_cr0(&self, value: u32) -> Result<()> {
        self.regs.write32(regs::CR0, value);
        self.poll("CR0", || self.regs.read32(regs::CR0ACK) == value)
    }

    fn poll(&self, what: &'static str, mut done: impl FnMut() -> bool) -> Result<()> {
        for _ in 0..POLL_LIMIT {
            if done() {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(SmmuSetupError::NoAck(what))
    }
}

/// ", N more not logged" after a fault line, when the rate limit dropped some.
struct Suppressed(u64);

impl fmt::Display for Suppressed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(f, "; {n} earlier faults not logged"),
        }
    }
}

/// Counts one more fault for `sid`; returns its total.
fn count_fault(faults: &mut Vec<(u32, u32)>, sid: u32) -> u32 {
    match faults.iter_mut().find(|(s, _)| *s == sid) {
        Some((_, count)) => {
            *count = count.saturating_add(1);
            *count
        }
        None => {
            faults.push((sid, 1));
            1
        }
    }
}
