//! Executing one guest ITS command against sluice's tables.
#![forbid(unsafe_code)]

use super::*;

impl VirtualIts {
    /// Executes one decoded command.
    pub fn execute(&mut self, command: ItsCommand) -> Result<Vec<ItsEffect>, ItsRefusal> {
        match command {
            ItsCommand::Mapd {
                device,
                event_bits,
                valid,
                ..
            } => self.mapd(device, event_bits, valid),
            ItsCommand::Mapc {
                collection,
                target,
                valid,
            } => self.mapc(collection, target, valid),
            ItsCommand::Mapti {
                device,
                event,
                intid,
                collection,
            } => self.mapti(device, event, intid, collection),
            ItsCommand::Movi {
                device,
                event,
                collection,
            } => {
                let (intid, _) = self.event(device, event)?;
                let vcpu = self.vcpu_of(collection)?;
                self.set_event(device, event, intid, collection);
                Ok(Vec::from([ItsEffect::Route { intid, vcpu }]))
            }
            ItsCommand::Discard { device, event } => {
                let (intid, _) = self.event(device, event)?;
                if let Some(d) = self.devices.get_mut(&device) {
                    d.events.remove(&event);
                }
                Ok(Vec::from([ItsEffect::Unroute { intid }]))
            }
            ItsCommand::Inv { device, event } => Ok(Vec::from([ItsEffect::Reload {
                intid: self.event(device, event)?.0,
            }])),
            ItsCommand::Invall { collection } => {
                self.vcpu_of(collection)?;
                Ok(self
                    .lpis_in(collection)
                    .map(|intid| ItsEffect::Reload { intid })
                    .collect())
            }
            ItsCommand::Sync { target } => {
                self.check_target(target)?;
                Ok(Vec::new()) // every command takes effect before the next: nothing to wait for
            }
            ItsCommand::Clear { device, event } => Ok(Vec::from([ItsEffect::Clear {
                intid: self.event(device, event)?.0,
            }])),
            ItsCommand::Int { device, event } => {
                let (intid, collection) = self.event(device, event)?;
                Ok(Vec::from([ItsEffect::Inject {
                    intid,
                    vcpu: self.vcpu_of(collection)?,
                }]))
            }
            ItsCommand::Movall { from, to } => {
                let (from, to) = (self.check_target(from)?, self.check_target(to)?);
                let moved: Vec<u16> = self
                    .collections
                    .iter()
                    .filter(|&(_, &v)| v == from)
                    .map(|(&c, _)| c)
                    .collect();
                let mut effects = Vec::new();
                for c in moved {
                    self.collections.insert(c, to);
                    effects.extend(
                        self.lpis_in(c)
                            .map(|intid| ItsEffect::Route { intid, vcpu: to }),
                    );
                }
                Ok(effects)
            }
            ItsCommand::Unknown { opcode } => Err(ItsRefusal::Unsupported(opcode)),
        }
    }

    fn check_target(&self, target: u64) -> Result<usize, ItsRefusal> {
        (target < self.vcpus as u64)
            .then_some(target as usize)
            .ok_or(ItsRefusal::OutOfRange("target processor"))
    }

    fn mapd(
        &mut self,
        device: u32,
        event_bits: u8,
        valid: bool,
    ) -> Result<Vec<ItsEffect>, ItsRefusal> {
        self.check_owned(device)?;
        // Checked before anything changes: a refused command has no effect to report.
        if valid && event_bits > MAX_EVENT_BITS {
            return Err(ItsRefusal::OutOfRange("EventID size"));
        }
        let old = self.devices.remove(&device);
        let effects = old
            .iter()
            .flat_map(|d| d.events.values())
            .map(|&(intid, _)| ItsEffect::Unroute { intid })
            .collect();
        if valid {
            self.devices.insert(
                device,
                Device {
                    event_bits,
                    events: BTreeMap::new(),
                },
            );
        }
        Ok(effects)
    }

    fn mapc(
        &mut self,
        collection: u16,
        target: u64,
        valid: bool,
    ) -> Result<Vec<ItsEffect>, ItsRefusal> {
        if collection as usize >= self.vcpus {
            return Err(ItsRefusal::OutOfRange("collection"));
        }
        if !valid {
            self.collections.remove(&collection);
            return Ok(Vec::new());
        }
        let vcpu = self.check_target(target)?;
        self.collections.insert(collection, vcpu);
        Ok(self
            .lpis_in(collection)
            .map(|intid| ItsEffect::Route { intid, vcpu })
            .collect())
    }

    fn mapti(
        &mut self,
        device: u32,
        event: u32,
        intid: u32,
        collection: u16,
    ) -> Result<Vec<ItsEffect>, ItsRefusal> {
        self.check_owned(device)?;
        let event_bits = self
            .devices
            .get(&device)
            .ok_or(ItsRefusal::NotMapped("device"))?
            .event_bits;
        if event >> event_bits != 0 {
            return Err(ItsRefusal::OutOfRange("EventID"));
        }
        if intid < FIRST_LPI || intid - FIRST_LPI >= self.lpi_count {
            return Err(ItsRefusal::OutOfRange("LPI"));
        }
        if collection as usize >= self.vcpus {
            return Err(ItsRefusal::OutOfRange("collection"));
        }
        let vcpu = self.collections.get(&collection).copied().unwrap_or(0);
        self.set_event(device, event, intid, collection);
        Ok(Vec::from([ItsEffect::Route { intid, vcpu }]))
    }

    fn set_event(&mut self, device: u32, event: u32, intid: u32, collection: u16) {
        if let Some(d) = self.devices.get_mut(&device) {
            d.events.insert(event, (intid, collection));
        }
    }

    fn lpis_in(&self, collection: u16) -> impl Iterator<Item = u32> + '_ {
        self.devices
            .values()
            .flat_map(|d| d.events.values())
            .filter(move |&&(_, c)| c == collection)
            .map(|&(i, _)| i)
    }
}
