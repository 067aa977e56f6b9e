//! A minimal flattened device tree reader (Devicetree Specification v0.4, chapter 5): enough
//! to find nodes by path or `compatible` and read their properties, without an allocator.
//! The blob is hostile-shaped input as far as this code is concerned: every read is bounds
//! checked and a malformed tree gives `None`, never a panic.
#![forbid(unsafe_code)]

const FDT_MAGIC: u32 = 0xd00d_feed;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;

/// A parsed blob: the structure and strings blocks.
#[derive(Clone, Copy)]
pub struct Fdt<'a> {
    structs: &'a [u8],
    strings: &'a [u8],
}

/// A node: the offset of its FDT_BEGIN_NODE token in the structure block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node(usize);

/// One token of the structure block.
enum Token<'a> {
    Begin(&'a [u8]),
    End,
    Prop(&'a [u8], &'a [u8]),
    Finish,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

fn cstr(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

impl<'a> Fdt<'a> {
    /// Reads the header of `blob` (the whole blob, at least `totalsize` bytes).
    pub fn new(blob: &'a [u8]) -> Option<Self> {
        if be32(blob, 0)? != FDT_MAGIC {
            return None;
        }
        let total = be32(blob, 4)? as usize;
        let blob = blob.get(..total)?;
        let (off_struct, off_strings) = (be32(blob, 8)? as usize, be32(blob, 12)? as usize);
        let (size_strings, size_struct) = (be32(blob, 32)? as usize, be32(blob, 36)? as usize);
        Some(Fdt {
            structs: blob.get(off_struct..off_struct.checked_add(size_struct)?)?,
            strings: blob.get(off_strings..off_strings.checked_add(size_strings)?)?,
        })
    }

    /// The total size a header announces (to build the slice before calling `new`).
    pub fn total_size(header: &[u8]) -> Option<usize> {
        (be32(header, 0)? == FDT_MAGIC).then_some(be32(header, 4)? as usize)
    }

    /// The token at `at` and the offset of the next one.
    fn token(&self, mut at: usize) -> Option<(Token<'a>, usize)> {
        loop {
            let tag = be32(self.structs, at)?;
            at += 4;
            match tag {
                FDT_NOP => continue,
                FDT_BEGIN_NODE => {
                    let name = cstr(self.structs.get(at..)?);
                    return Some((Token::Begin(name), align4(at + name.len() + 1)?));
                }
                FDT_END_NODE => return Some((Token::End, at)),
                FDT_PROP => {
                    let len = be32(self.structs, at)? as usize;
                    let name_off = be32(self.structs, at + 4)? as usize;
                    let data = self.structs.get(at + 8..(at + 8).checked_add(len)?)?;
                    let name = cstr(self.strings.get(name_off..)?);
                    return Some((Token::Prop(name, data), align4(at + 8 + len)?));
                }
                FDT_END => return Some((Token::Finish, at)),
                _ => return None,
            }
        }
    }

    /// The root node.
    pub fn root(&self) -> Option<Node> {
        match self.token(0)? {
            (Token::Begin(_), _) => Some(Node(0)),
            _ => None,
        }
    }

    /// The name of `node` (with its unit address).
    pub fn name(&self, node: Node) -> &'a [u8] {
        match self.token(node.0) {
            Some((Token::Begin(name), _)) => name,
            _ => &[],
        }
    }

    /// Property `name` of `node`.
    pub fn prop(&self, node: Node, name: &str) -> Option<&'a [u8]> {
        let (_, mut at) = self.token(node.0)?;
        loop {
            match self.token(at)? {
                (Token::Prop(n, data), _) if n == name.as_bytes() => return Some(data),
                (Token::Prop(..), next) => at = next,
                _ => return None,
            }
        }
    }

    /// The `index`-th child of `node`.
    pub fn child(&self, node: Node, index: usize) -> Option<Node> {
        let (_, mut at) = self.token(node.0)?;
        let (mut depth, mut seen) = (0usize, 0usize);
        loop {
            let (token, next) = self.token(at)?;
            match token {
                Token::Begin(_) if depth == 0 => {
                    if seen == index {
                        return Some(Node(at));
                    }
                    seen += 1;
                    depth = 1;
                }
                Token::Begin(_) => depth += 1,
                Token::End if depth == 0 => return None,
                Token::End => depth -= 1,
                Token::Prop(..) => {}
                Token::Finish => return None,
            }
            at = next;
        }
    }

    /// The children of `node`, in order.
    pub fn children(&self, node: Node) -> impl Iterator<Item = Node> + '_ {
        (0..).map_while(move |i| self.child(node, i))
    }

    /// The child of `node` called `name` (a name without `@` also matches `name@unit`).
    pub fn child_named(&self, node: Node, name: &str) -> Option<Node> {
        self.children(node).find(|&c| {
            let full = self.name(c);
            let base = full.split(|&b| b == b'@').next().unwrap_or(full);
            full == name.as_bytes() || (!name.contains('@') && base == name.as_bytes())
        })
    }

    /// The node at an absolute `path` such as `/chosen` or `/cpus/cpu@1`.
    pub fn find_path(&self, path: &str) -> Option<Node> {
        let mut node = self.root()?;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            node = self.child_named(node, part)?;
        }
        Some(node)
    }

    /// The first node, depth first, whose `compatible` lists `compat`.
    pub fn find_compatible(&self, compat: &str) -> Option<Node> {
        self.find_compatible_under(self.root()?, compat)
    }

    fn find_compatible_under(&self, node: Node, compat: &str) -> Option<Node> {
        for child in self.children(node) {
            if self
                .prop(child, "compatible")
                .is_some_and(|p| is_compatible(p, compat))
            {
                return Some(child);
            }
            if let Some(found) = self.find_compatible_under(child, compat) {
                return Some(found);
            }
        }
        None
    }

    /// A string property without its NUL terminator (the first string of a list).
    pub fn prop_str(&self, node: Node, name: &str) -> Option<&'a str> {
        core::str::from_utf8(cstr(self.prop(node, name)?)).ok()
    }

    /// A one-cell property.
    pub fn prop_u32(&self, node: Node, name: &str) -> Option<u32> {
        be32(self.prop(node, name)?, 0)
    }
}

/// True if a `compatible` property (NUL-separated strings) lists `name`.
pub fn is_compatible(property: &[u8], name: &str) -> bool {
    property.split(|&c| c == 0).any(|s| s == name.as_bytes())
}

/// Reads a number of `cells` big-endian 32-bit cells (1 or 2) at cell `index` of `data`.
pub fn cells(data: &[u8], index: usize, cells: usize) -> Option<u64> {
    (0..cells).try_fold(0u64, |acc, i| {
        Some(acc << 32 | be32(data, (index + i).checked_mul(4)?)? as u64)
    })
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Builds small blobs for the tests of this crate.
    #[derive(Default)]
    pub struct Builder {
        structs: Vec<u8>,
        strings: Vec<u8>,
    }

    impl Builder {
        fn word(&mut self, w: u32) {
            self.structs.extend_from_slice(&w.to_be_bytes());
        }
        fn pad(&mut self) {
            while !self.structs.len().is_multiple_of(4) {
                self.structs.push(0);
            }
        }
        /// Opens node `name`.
        pub fn begin(&mut self, name: &str) -> &mut Self {
            self.word(FDT_BEGIN_NODE);
            self.structs.extend_from_slice(name.as_bytes());
            self.structs.push(0);
            self.pad();
            self
        }
        /// Closes the current node.
        pub fn end(&mut self) -> &mut Self {
            self.word(FDT_END_NODE);
            self
        }
        /// Adds a raw property.
        pub fn prop(&mut self, name: &str, data: &[u8]) -> &mut Self {
            self.word(FDT_PROP);
            self.word(data.len() as u32);
            let off = self.strings.len() as u32;
            self.strings.extend_from_slice(name.as_bytes());
            self.strings.push(0);
            self.word(off);
            self.structs.extend_from_slice(data);
            self.pad();
            self
        }
        /// Adds a string property.
        pub fn str(&mut self, name: &str, value: &str) -> &mut Self {
            let mut v = value.as_bytes().to_vec();
            v.push(0);
            self.prop(name, &v)
        }
        /// Adds a property of 32-bit cells.
        pub fn cells(&mut self, name: &str, values: &[u32]) -> &mut Self {
            let v: Vec<u8> = values.iter().flat_map(|c| c.to_be_bytes()).collect();
            self.prop(name, &v)
        }
        /// The finished blob.
        pub fn finish(&mut self) -> Vec<u8> {
            self.word(FDT_END);
            let off_struct = 40;
            let off_strings = off_struct + self.structs.len();
            let total = off_strings + self.strings.len();
            let mut blob = Vec::new();
            for w in [
                FDT_MAGIC,
                total as u32,
                off_struct as u32,
                off_strings as u32,
                0,
                17,
                16,
                0,
            ] {
                blob.extend_from_slice(&w.to_be_bytes());
            }
            blob.extend_from_slice(&(self.strings.len() as u32).to_be_bytes());
            blob.extend_from_slice(&(self.structs.len() as u32).to_be_bytes());
            blob.extend_from_slice(&self.structs);
            blob.extend_from_slice(&self.strings);
            blob
        }
    }

    fn sample() -> Vec<u8> {
        let mut b = Builder::default();
        b.begin("").cells("#address-cells", &[2]);
        b.begin("chosen").str("bootargs", "a b").end();
        b.begin("cpus").begin("cpu@0").cells("reg", &[0]).end();
        b.begin("cpu@1").cells("reg", &[1]).end().end();
        b.begin("intc@8000000")
            .str("compatible", "arm,gic-v3")
            .end();
        b.end().finish()
    }

    #[test]
    fn paths_with_and_without_unit_addresses_find_their_nodes() {
        let blob = sample();
        let fdt = Fdt::new(&blob).unwrap();
        let cpu1 = fdt.find_path("/cpus/cpu@1").unwrap();
        assert_eq!(fdt.prop_u32(cpu1, "reg"), Some(1));
        assert_eq!(fdt.find_path("/intc"), fdt.find_compatible("arm,gic-v3"));
        assert_eq!(
            fdt.prop_str(fdt.find_path("/chosen").unwrap(), "bootargs"),
            Some("a b")
        );
        assert!(fdt.find_path("/cpus/cpu@2").is_none());
    }

    #[test]
    fn children_are_listed_in_order_and_skip_grandchildren() {
        let blob = sample();
        let fdt = Fdt::new(&blob).unwrap();
        let root = fdt.root().unwrap();
        let names: Vec<&[u8]> = fdt.children(root).map(|n| fdt.name(n)).collect();
        assert_eq!(names, [&b"chosen"[..], b"cpus", b"intc@8000000"]);
    }

    #[test]
    fn truncated_or_foreign_blobs_are_refused_without_panicking() {
        let blob = sample();
        assert!(Fdt::new(&blob[..20]).is_none());
        assert!(Fdt::new(&[0u8; 64]).is_none());
        let mut bad = blob.clone();
        bad[43] = 0x7f; // the first token becomes garbage
        let fdt = Fdt::new(&bad).unwrap();
        assert!(fdt.root().is_none());
        assert!(fdt.find_path("/chosen").is_none());
    }

    #[test]
    fn two_cell_values_are_read_big_endian() {
        let data = [0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0, 0, 0];
        assert_eq!(cells(&data, 0, 2), Some(0x1_0000_0002));
        assert_eq!(cells(&data, 2, 1), Some(0xff00_0000));
        assert_eq!(cells(&data, 2, 2), None);
    }
}
