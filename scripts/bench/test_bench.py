"""Host unit tests of the benchmark's parsing and reporting:
    python3 -m unittest discover -s scripts/bench"""
import unittest

import parse
import report

TABLE_BEFORE = """[sluice] exits                         vcpu0        vcpu1        total
[sluice] mmio ecam                        10            0           10
[sluice] hvc psci_version                  1            0            1
[sluice] irq device                      100            0          100
[sluice] all                             111            0          111"""

TABLE_AFTER = """[sluice] exits                         vcpu0        vcpu1        total
[sluice] mmio ecam                        10            0           10
[sluice] mmio msix/pba                     4            0            4
[sluice] hvc psci_version                  1            0            1
[sluice] irq device                      300            0          300
[sluice] irq sgi                           0           50           50
[sluice] all                             315           50          365"""


def console(text, start=0.0, step=0.5):
    return [(start + n * step, line) for n, line in enumerate(text.splitlines())]


def sluice_run():
    text = "\n".join([
        "sluice: starting QEMU",
        "[sluice] entry to guest: 1500 us",
        "sluice-bench: userspace",
        "sluice-bench: snap fetch-start eth0",
        TABLE_BEFORE,
        "go",
        "sluice-bench: snap fetch-end eth0",
        "[sluice] vpci 00:00.0 bar 0 0x80000000 -> 0x10000000 128 KiB",
        TABLE_AFTER,
        "sluice-bench: fetch eth0 driver=e1000e bytes=2097152 md5=ab time_us=1000000 irqs=100",
        "sluice-bench: done",
    ])
    return console(text)


class ParseTests(unittest.TestCase):
    def test_boot_time_runs_from_qemu_start_to_the_first_userspace_line(self):
        self.assertAlmostEqual(parse.boot_seconds(sluice_run()), 1.0)

    def test_a_run_without_the_userspace_marker_is_an_error(self):
        with self.assertRaises(parse.ParseError):
            parse.boot_seconds(console("sluice: starting QEMU\nkernel panic"))

    def test_exit_tables_are_labelled_by_the_snapshot_that_asked_for_them(self):
        tables = parse.exit_tables(sluice_run())
        self.assertEqual(set(tables), {"fetch-start eth0", "fetch-end eth0"})
        self.assertEqual(tables["fetch-end eth0"]["irq device"], 300)
        self.assertEqual(tables["fetch-start eth0"]["hvc psci_version"], 1)

    def test_a_table_after_the_last_snapshot_is_the_power_off_table(self):
        tables = parse.exit_tables(console(TABLE_BEFORE))
        self.assertEqual(list(tables), ["power-off"])

    def test_deltas_keep_only_reasons_that_changed(self):
        tables = parse.exit_tables(sluice_run())
        delta = parse.window(tables, "fetch-{} eth0")
        self.assertEqual(delta, {"mmio msix/pba": 4, "irq device": 200, "irq sgi": 50, "all": 254})

    def test_fetch_figures_count_exits_per_mib_and_per_interrupt(self):
        figures = parse.run_figures(sluice_run(), sluice=True)
        fetch = figures["fetch"]["e1000e"]
        self.assertAlmostEqual(fetch["mib_s"], 2.0)
        self.assertEqual(fetch["exits_per_mib"]["irq device"], 100.0)
        self.assertAlmostEqual(fetch["exits_per_mib_total"], 127.0)
        self.assertAlmostEqual(fetch["interrupt_exits_per_irq"], 2.04)
        self.assertAlmostEqual(fetch["all_exits_per_irq"], 2.54)
        self.assertEqual(figures["entry_us"], 1500)

    def test_a_failed_fetch_is_an_error(self):
        lines = console("sluice-bench: fetch eth0 driver=e1000e failed status=1")
        with self.assertRaises(parse.ParseError):
            parse.fetches(lines)

    def test_config_reads_subtract_the_baseline_loop(self):
        lines = console("sluice: starting QEMU\nsluice-bench: userspace\n"
                        "sluice-bench: cfgread dev=0000:00:01.0 size=4096 reads=10240 passes=10 "
                        "time_us=30720 baseline_us=10240")
        self.assertAlmostEqual(parse.run_figures(lines, sluice=False)["cfg_us_per_read"], 2.0)


def disk_run():
    text = "\n".join([
        "sluice: starting QEMU",
        "sluice-bench: userspace",
        "sluice-bench: snap disk-start nvme0n1",
        TABLE_BEFORE,
        "sluice-bench: snap disk-end nvme0n1",
        TABLE_AFTER,
        "sluice-bench: disk nvme0n1 driver=nvme bytes=4194304 md5=cd time_us=2000000 irqs=8",
        "sluice-bench: done",
    ])
    return console(text)


class DiskTests(unittest.TestCase):
    def test_a_disk_read_gives_throughput_and_exits_from_its_own_snapshots(self):
        figures = parse.run_figures(disk_run(), sluice=True)
        self.assertEqual(figures["fetch"], {})
        read = figures["disk"]["nvme"]
        self.assertAlmostEqual(read["mib_s"], 2.0)
        self.assertEqual(read["irqs_per_mib"], 2.0)
        self.assertEqual(read["exits_per_mib"]["irq device"], 50.0)

    def test_a_failed_disk_read_is_an_error(self):
        with self.assertRaises(parse.ParseError):
            parse.fetches(console("sluice-bench: disk vda driver=virtio_blk failed status=1"), parse.DISK)

    def test_the_comparison_table_has_a_sequential_read_row_per_disk(self):
        native = parse.run_figures(disk_run(), sluice=False)
        sluice = parse.run_figures(disk_run(), sluice=True)
        table = report.comparison_table([native], [sluice], [], ["nvme"])
        self.assertIn("| NVMe sequential read | MiB/s |", table)
        self.assertIn("1.00x / **1.00x** / 1.00x | met (at least 0.95x)", table)
        self.assertIn("| irq device | 50.0", report.exits_per_mib_table([sluice], "nvme", "disk"))


class ReportTests(unittest.TestCase):
    def test_spread_ignores_missing_values(self):
        self.assertEqual(report.spread([3, None, 1, 2]), (1, 2, 3))
        self.assertIsNone(report.spread([None]))

    def test_ratios_pair_runs_in_order(self):
        self.assertEqual(report.ratios([2.0, 4.0], [3.0, 2.0]), [1.5, 0.5])

    def test_targets_compare_the_median_ratio_in_the_right_direction(self):
        self.assertTrue(report.target_verdict(("max", 1.10), 1.05).startswith("met"))
        self.assertTrue(report.target_verdict(("max", 1.10), 1.20).startswith("MISSED"))
        self.assertTrue(report.target_verdict(("min", 0.95), 0.96).startswith("met"))
        self.assertTrue(report.target_verdict(("min", 0.95), 0.90).startswith("MISSED"))

    def test_the_interrupt_cost_bound_charges_the_extra_time_to_the_interrupts(self):
        native = {"fetch": {"e1000e": {"time_us": 1000, "irqs": 10}}}
        sluice = {"fetch": {"e1000e": {"time_us": 1500, "irqs": 50}}}
        self.assertEqual(report.msix_bound_us([native], [sluice], "e1000e"), [10.0])

    def test_the_comparison_table_has_a_row_per_figure(self):
        native = parse.run_figures(sluice_run(), sluice=False)
        sluice = parse.run_figures(sluice_run(), sluice=True)
        table = report.comparison_table([native], [sluice], ["e1000e"])
        self.assertIn("| e1000e fetch throughput | MiB/s |", table)
        self.assertIn("1.00x / **1.00x** / 1.00x | met", table)

    def test_the_speed_up_line_divides_this_sluice_by_the_baseline_run_by_run(self):
        baselines = [{"boot_s": 4.0, "boot_cpu_s": 8.0, "entry_us": 2000}]
        sluices = [{"boot_s": 3.0, "boot_cpu_s": 6.0, "entry_us": 500}]
        line = report.speedup_line(baselines, sluices)
        self.assertIn("boot this/baseline 0.75x / **0.75x** / 0.75x", line)
        self.assertIn("boot CPU time this/baseline 0.75x", line)
        self.assertIn("entry to guest this/baseline 0.25x", line)
        self.assertIn("config read this/baseline -", line)

    def test_gicv3_and_gicv4_runs_stand_side_by_side_with_the_direct_path_target(self):
        gic3 = [{"fetch": {"e1000e": {"mib_s": 10.0, "interrupt_exits_per_irq": 1.14}}}]
        gic4 = [{"fetch": {"e1000e": {"mib_s": 12.0, "interrupt_exits_per_irq": 0.0}}}]
        table = report.gic_side_by_side(gic3, gic4, ["e1000e"])
        self.assertIn("| e1000e fetch throughput (MiB/s) | 10.00 / **10.00** / 10.00 | "
                      "12.00 / **12.00** / 12.00 |", table)
        self.assertIn("| e1000e exits per device interrupt | 1.14 / **1.14** / 1.14 | "
                      "0.00 / **0.00** / 0.00 | met (at most 0.05) |", table)
        slow = [{"fetch": {"e1000e": {"interrupt_exits_per_irq": 0.5}}}]
        self.assertIn("MISSED (at most 0.05)", report.gic_side_by_side(gic3, slow, ["e1000e"]))


if __name__ == "__main__":
    unittest.main()
