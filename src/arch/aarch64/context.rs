//! The guest register frame saved by the exit path in `vectors.S`, and guest entry.

/// Guest general-purpose registers plus the exception return state, exactly as `vectors.S`
/// lays them out on the stack (x0..x30, ELR_EL2, SPSR_EL2, padding to 16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GuestFrame {
    /// x0..x30.
    pub x: [u64; 31],
    /// Guest program counter (ELR_EL2).
    pub pc: u64,
    /// Guest PSTATE (SPSR_EL2).
    pub pstate: u64,
    _pad: u64,
}

const _: () = assert!(core::mem::size_of::<GuestFrame>() == 272);

impl GuestFrame {
    /// A frame that starts the guest at `pc` with `pstate` and `x0`, every other register zero.
    pub fn starting_at(pc: u64, pstate: u64, x0: u64) -> Self {
        let mut frame = Self {
            pc,
            pstate,
            ..Self::default()
        };
        frame.x[0] = x0;
        frame
    }

    /// Register `n` as an instruction names it: 31 is the zero register.
    pub fn reg(&self, n: u8) -> u64 {
        self.x.get(n as usize).copied().unwrap_or(0)
    }

    /// Writes register `n`; writes to the zero register (31) vanish.
    pub fn set_reg(&mut self, n: u8, value: u64) {
        if let Some(r) = self.x.get_mut(n as usize) {
            *r = value;
        }
    }
}

extern "C" {
    fn guest_enter(frame: *const GuestFrame, stack_top: u64) -> !;
}

/// Enters the guest with `frame`, resetting this CPU's stack to `stack_top`.
pub fn enter_guest(frame: &GuestFrame, stack_top: u64) -> ! {
    // The EL2 guest controls were configured by `cpu::configure_guest_traps` before any call.
    // SAFETY: `guest_enter` loads the guest's registers from `frame`, resets sp to this CPU's
    // stack top (nothing live uses it: this function never returns) and erets to the guest.
    unsafe { guest_enter(frame, stack_top) }
}
