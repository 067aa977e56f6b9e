"""Writes an uncompressed cpio (newc) archive whose member /its-cmds holds hand-built GICv3 ITS
commands at a 4 KiB-aligned offset, for the hostile-ITS test: the guest boots with this archive
prepended to its initramfs (retain_initrd keeps it in guest RAM) and points its ITS command
queue at it. Usage: its_cmds_cpio.py OUT.cpio [DEVICEID]: DEVICEID (default 0x100) is the
DeviceID the guest does not own that MAPD, INT and MAPTI name. Prints the offset of the commands."""
import struct, sys

def command(*dwords):
    return struct.pack("<4Q", *(list(dwords) + [0] * (4 - len(dwords))))

# A DeviceID the guest does not own (its devices are slot << 3, slots < 32), or the argument's.
NOT_OURS = int(sys.argv[2], 0) if len(sys.argv) > 2 else 0x100
commands = b"".join([
    command(0x08 | NOT_OURS << 32, 4, 1 << 63 | 0x1000),      # MAPD of a device it does not own
    command(0x03 | NOT_OURS << 32, 0),                         # INT on that device
    command(0x0a | NOT_OURS << 32, 0 | 8192 << 32, 0),         # MAPTI on that device
    command(0x0a | 0 << 32, 0x7fff_ffff | 0x2000 << 32, 0),    # MAPTI: EventID out of range
    command(0x0a | 0 << 32, 1 | 0xffff_ffff << 32, 0),         # MAPTI: LPI out of range
    command(0x09, 0, 1 << 63 | 0x7fff << 16 | 0x40),           # MAPC: collection and target out of range
    command(0x2a),                                              # an undefined opcode
])

def entry(name, data, mode=0o100644):
    name_bytes = name.encode() + b"\0"
    header = "070701" + "".join(f"{v:08x}" for v in (
        0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_bytes), 0))
    out = header.encode() + name_bytes
    out += b"\0" * (-len(out) % 4)
    return out, data + b"\0" * (-len(data) % 4)

archive = b""
head, _ = entry("its-pad", b"")
pad_header_len = len(head)
head2, _ = entry("its-cmds", commands)
# Pad so that the commands' data begins on a 4 KiB boundary.
pad_len = (-(pad_header_len + len(head2))) % 4096
pad_head, pad_data = entry("its-pad", b"\0" * pad_len)
archive += pad_head + pad_data
cmds_head, cmds_data = entry("its-cmds", commands)
archive += cmds_head
offset = len(archive)
archive += cmds_data
trailer, _ = entry("TRAILER!!!", b"")
archive += trailer
archive += b"\0" * (-len(archive) % 512)
assert offset % 4096 == 0, offset
open(sys.argv[1], "wb").write(archive)
print(offset, len(commands) // 32)
