//! sluice's own command line (`/chosen/bootargs`): words of the form `sluice.NAME=VALUE`.
#![forbid(unsafe_code)]

/// The values given to option `name` (`sluice.pci`, ...), in command-line order.
pub fn values<'a>(bootargs: &'a str, name: &'a str) -> impl DoubleEndedIterator<Item = &'a str> {
    bootargs.split_whitespace().filter_map(move |word| {
        word.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
    })
}

#[cfg(test)]
mod tests {
    use super::values;
    use alloc::vec::Vec;

    #[test]
    fn values_are_found_by_whole_name_in_order() {
        let line = "console=ttyAMA0 sluice.pci=00:01.0 sluice.pcie=x sluice.pci= sluice.pci=all";
        let found: Vec<&str> = values(line, "sluice.pci").collect();
        assert_eq!(found, ["00:01.0", "", "all"]);
        assert_eq!(values(line, "sluice.stage2").next(), None);
        assert_eq!(values("", "sluice.pci").next(), None);
    }
}
