# Issue 12, guest lifecycle: a guest that faults fatally is stopped alone; guests described
# with run.sh --guest. (The two-guest helpers, disturbed_lines included, are in guests.sh.)

# net0 makes an access sluice cannot emulate (an LDP to the GIC distributor, 0x08000000 on
# QEMU virt) with sluice.unemulated=stop on sluice's command line: net0 is stopped with one
# line, its e1000e taken and reset; net1 fetches 64 MiB afterwards with the right md5 and
# powers off, then the machine; run.sh says a guest was stopped (status 6).
test_guest_fault_other_runs() {
    local log=$1 ok=0 rc initrd stop0 start1 end1 off1 machine
    initrd=$(scripts/mkfuzzinitramfs.sh) || return 1
    start_http_server
    $RUN --timeout 400 --guests two --initrd "$initrd" --hyp-append sluice.unemulated=stop \
        --guest-append "net0=iomem=relaxed sluice.ldp=0x08000000" \
        --guest-append "net1=sluice.fetch=http://10.0.2.2:$http_port/blob sluice.fetchwait=20" \
        >"$log" 2>&1; rc=$?
    [ "$rc" = 6 ] || { echo "  run.sh exit status $rc, expected 6 (a guest stopped)"; ok=1; }
    expect_line "$log" '^\(net0\) sluice-guestfuzz: pair: LDP of two words at 0x8000000' "net0's load pair" || ok=1
    expect_line "$log" '^\[sluice\] guest net0 stopped: vCPU 0: read at IPA 0x8000000 cannot be emulated \(no syndrome; sluice\.unemulated=stop\)' \
        "net0 stopped with its reason" || ok=1
    reject_line "$log" '^\(net0\) sluice-(guestfuzz: pair: (read|faulted)|demo: guest alive after ldp)' "net0 running on after the fault" || ok=1
    expect_line "$log" '^\[sluice\] pci 00:01\.0 taken from guest net0' "net0's e1000e taken" || ok=1
    expect_line "$log" '^\[sluice\] pci 00:01\.0 reset' "net0's e1000e reset" || ok=1
    check_net1_ran_on "$log" '^\[sluice\] guest net0 stopped: ' stopped || ok=1
    return $ok
}

# The same fault in the only guest (no guest node): the guest is stopped with the line, the
# machine powers off, run.sh exits with 6. Without sluice.unemulated=stop the guest takes a
# data abort (SIGBUS) and runs on (guest_fuzz and cross_guest_probes rely on it).
test_single_guest_fault() {
    local log=$1 ok=0 rc initrd
    initrd=$(scripts/mkfuzzinitramfs.sh) || return 1
    $RUN --timeout 300 --initrd "$initrd" --hyp-append sluice.unemulated=stop \
        --append "iomem=relaxed sluice.ldp=0x08000000" >"$log" 2>&1; rc=$?
    [ "$rc" = 6 ] || { echo "  run.sh exit status $rc, expected 6 (the guest stopped)"; ok=1; }
    expect_line "$log" '^\[sluice\] guest stopped: vCPU [0-9]+: read at IPA 0x8000000 cannot be emulated' "the guest stopped" || ok=1
    expect_line "$log" '^\[sluice\] every guest is off: powering the machine off' "machine off" || ok=1
    reject_line "$log" '^sluice-demo: guest alive after ldp' "the guest running on" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    printf '\n=== default policy ===\n' >>"$log"
    $RUN --timeout 300 --initrd "$initrd" --append "iomem=relaxed sluice.ldp=0x08000000" >>"$log" 2>&1; rc=$?
    [ "$rc" = 0 ] || { echo "  default policy: run.sh exit status $rc, expected 0"; ok=1; }
    expect_line "$log" '^sluice-guestfuzz: pair: faulted \(SIGBUS\)' "the load pair faulted in the guest" || ok=1
    expect_line "$log" '^sluice-demo: guest alive after ldp' "the guest alive after it" || ok=1
    return $ok
}

# Two guests described with --guest (NICs swapped against --guests two: net0 the virtio NIC
# on CPU 0, net1 the e1000e on CPU 1 with 384 MiB): both fetch 64 MiB with the right md5,
# every per-guest sluice line names its guest, both power off, then the machine. Bad --guest
# values are refused before QEMU starts.
test_guest_option() {
    local log=$1 ok=0 rc bad name
    start_http_server
    $RUN --timeout 400 --guest name=net0,cpus=0,pci=00:02.0 \
        --guest "name=net1,cpus=1,mem=384M,pci=00:01.0,append=sluice.nets=e1000e:10.0.2,virtio_net:10.0.2" \
        --append "sluice.fetch=http://10.0.2.2:$http_port/blob" >"$log" 2>&1; rc=$?
    [ "$rc" = 0 ] || { echo "  run.sh exit status $rc, expected 0"; ok=1; }
    expect_line "$log" "^\\(net0\\) sluice-demo: fetch eth0 \\(virtio_net\\) bytes=$FETCH_BYTES md5=$http_md5 " "net0 fetch through the virtio NIC" || ok=1
    expect_line "$log" "^\\(net1\\) sluice-demo: fetch eth0 \\(e1000e\\) bytes=$FETCH_BYTES md5=$http_md5 " "net1 fetch through the e1000e" || ok=1
    expect_line "$log" '^\(net1\) .*Kernel command line: .*sluice\.nets=e1000e:10\.0\.2,virtio_net:10\.0\.2' "net1's append= with its comma" || ok=1
    expect_line "$log" '^\[sluice\] pci 00:02\.0 assigned to guest net0 ' "virtio NIC to net0" || ok=1
    expect_line "$log" '^\[sluice\] pci 00:01\.0 assigned to guest net1 ' "e1000e to net1" || ok=1
    expect_line "$log" '^\[sluice\] guest net1: 1 vCPUs, RAM 384 MiB' "net1's 384 MiB" || ok=1
    for name in net0 net1; do
        expect_line "$log" "^\\[sluice\\] guest $name RAM: IPA " "$name's RAM line named" || ok=1
        expect_line "$log" "^\\[sluice\\] guest $name boot 0: heap in use" "$name's boot line named" || ok=1
        expect_line "$log" "^\\[sluice\\] guest $name powered off \\(PSCI SYSTEM_OFF\\)" "$name powered off" || ok=1
    done
    reject_line "$log" '^\[sluice\] guest (RAM|boot|PCI)|^\[sluice\] vCPU [0-9]' "a per-guest line without its guest's name" || ok=1
    expect_line "$log" '^\[sluice\] every guest is off: powering the machine off' "machine off with the last guest" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    : >"$log.bad"
    for bad in "cpus=0" "name=a,cpus=0,colour=red" "name=a,cpus=0,pci=0:1.0" "name=a,cpus=7"; do
        $RUN --guest "$bad" >>"$log.bad" 2>&1; rc=$?
        [ "$rc" = 1 ] || { echo "  --guest $bad: run.sh exit status $rc, expected 1"; ok=1; }
    done
    expect_line "$log.bad" "^error: --guest 'cpus=0': no name=NAME" "missing name refused" || ok=1
    expect_line "$log.bad" "^error: --guest .*unknown key 'colour'" "unknown key refused" || ok=1
    expect_line "$log.bad" "^error: --guest .*pci must be bus:dev\\.fn" "malformed BDF refused" || ok=1
    expect_line "$log.bad" "^error: --guest .*CPU 7 does not exist" "absent CPU refused" || ok=1
    reject_line "$log.bad" 'starting QEMU' "QEMU started for a bad --guest" || ok=1
    { printf '\n=== bad --guest values ===\n'; cat "$log.bad"; } >>"$log"
    rm -f "$log.bad"
    return $ok
}

scenario guest_fault_other_runs ci
scenario single_guest_fault full
scenario guest_option full

# A guest whose CPU never comes up: the host tree gains a /cpus/cpu@2 (MPIDR 2) that QEMU
# (--smp 2) does not have, so host PSCI CPU_ON fails for it; guest "ghost" pinned there is stopped at
# boot with its reason, net0 and net1 boot and power off, then the machine (status 6).
test_guest_cpu_missing() {
    local log=$1 ok=0 rc dtb=$LOGS/guest_cpu_missing.dtb name
    make_guest_dtb "$dtb" --nic e1000e --nic virtio -- "${TWO_GUESTS[@]}" || return 1
    cp "$dtb.base" "$dtb.ghost"
    fdtput -c "$dtb.ghost" /cpus/cpu@2
    for prop in compatible device_type enable-method; do
        fdtput -t s "$dtb.ghost" /cpus/cpu@2 "$prop" "$(fdtget "$dtb.ghost" /cpus/cpu@1 "$prop")"
    done
    fdtput -t x "$dtb.ghost" /cpus/cpu@2 reg 2
    fdtput -t x "$dtb.ghost" /cpus/cpu@2 phandle 0x7777
    local kernel initrd args=() base=$dtb.base # module_of reads $base
    kernel=$(module_of kernel) initrd=$(module_of ramdisk)
    for a in "${TWO_GUESTS[@]}" --guest ghost --cpus 2 --mem 128M --kernel @KERNEL --initrd @INITRD \
        --bootargs "console=ttyAMA0"; do
        a=${a//@KERNEL/$kernel}; args+=("${a//@INITRD/$initrd}")
    done
    scripts/mkguestdtb.sh "$dtb.ghost" "$dtb" "${args[@]}" || return 1
    $RUN --timeout 180 --nic e1000e --nic virtio -- -dtb "$dtb" >"$log" 2>&1; rc=$?
    [ "$rc" = 6 ] || { echo "  run.sh exit status $rc, expected 6 (a guest stopped)"; ok=1; }
    # fdtput puts the new node first under /cpus: sluice numbers it CPU 0 (MPIDR 2).
    expect_line "$log" '^\[sluice\] WARN: host PSCI CPU_ON for CPU [0-9]+ \(MPIDR 0x2\) failed' "MPIDR 2 not started" || ok=1
    expect_line "$log" '^\[sluice\] guest ghost stopped: its vCPU 0 has no CPU \(CPU [0-9]+ did not start\)' "ghost stopped" || ok=1
    reject_line "$log" '^\(ghost\) ' "a line of ghost" || ok=1
    for name in net0 net1; do
        expect_line "$log" "^\\[sluice\\] guest $name powered off \\(PSCI SYSTEM_OFF\\)" "$name powered off" || ok=1
    done
    expect_line "$log" '^\[sluice\] every guest is off: powering the machine off' "machine off with the last guest" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    return $ok
}

scenario guest_cpu_missing full

# The SMMU's interrupts follow the running guests: net0 (CPU 0, the boot CPU, where they went
# at boot) powers off at once; net1 (CPU 1) then points its e1000e's receive ring outside its
# memory (IPA 0x10000000) and receives. The faults are still served: logged with the stream,
# attributed to net1, its NIC stopped; net1 alive and off, then the machine. (Before, they
# stayed pending on the halted CPU 0.)
test_guest_dma_fault_other_cpu() {
    local log=$1 ok=0 rc off0 ring fault stopped
    $RUN --timeout 300 --guest name=net0,cpus=0,pci=00:02.0 \
        --guest "name=net1,cpus=1,pci=00:01.0,append=iomem=relaxed sluice.dmaescape=0x10000000 sluice.dmawait=15" \
        >"$log" 2>&1; rc=$?
    [ "$rc" = 0 ] || { echo "  run.sh exit status $rc, expected 0"; ok=1; }
    line_of() { grep -nE -- "$1" "$log" | head -1 | cut -d: -f1; }
    off0=$(line_of '^\[sluice\] guest net0 powered off \(PSCI SYSTEM_OFF\)')
    ring=$(line_of '^\(net1\) sluice-demo: dmaescape eth0 rx ring at 0x10000000')
    fault=$(line_of '^\[sluice\] WARN: smmu: F_[A-Z_]+ stream 0x0008 ')
    stopped=$(line_of '^\[sluice\] WARN: pci 00:01\.0 .* of guest net1 made [0-9]+ DMA faults .*bus mastering turned off')
    [ -n "$off0" ] && [ -n "$ring" ] && [ -n "$fault" ] && [ -n "$stopped" ] &&
        [ "$off0" -lt "$ring" ] && [ "$ring" -lt "$fault" ] && [ "$fault" -lt "$stopped" ] ||
        { echo "  net0 off at line ${off0:-?}, net1's ring moved at ${ring:-?}, SMMU fault logged at ${fault:-?}, NIC stopped at ${stopped:-?}"; ok=1; }
    expect_line "$log" '^\(net1\) sluice-demo: dmaescape done, guest alive' "net1 alive" || ok=1
    expect_line "$log" '^\[sluice\] guest net1 powered off \(PSCI SYSTEM_OFF\)' "net1 powered off" || ok=1
    expect_line "$log" '^\[sluice\] DMA canary at 0x[0-9a-f]+ intact' "canary intact" || ok=1
    reject_line "$log" '^\[sluice\] (PANIC|FATAL|ERROR)' "hypervisor error" || ok=1
    return $ok
}

scenario guest_dma_fault_other_cpu full
