//! The hash table that maps expanded names to name ids: built by the build script (and by
//! the test compiler) into a static table, probed at run time for every element and
//! attribute name of a document. Namespaces are numbered first (a document has a handful,
//! resolved once each), so a probe hashes only the local name.

/// An empty slot.
pub const EMPTY: u32 = u32::MAX;

/// The hash of a local name in namespace number `ns`: length, first and last eight bytes.
pub fn hash(ns: u32, local: &str) -> u32 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let b = local.as_bytes();
    let n = b.len();
    let (head, tail) = if n >= 8 {
        (
            u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            u64::from_le_bytes([
                b[n - 8],
                b[n - 7],
                b[n - 6],
                b[n - 5],
                b[n - 4],
                b[n - 3],
                b[n - 2],
                b[n - 1],
            ]),
        )
    } else {
        (b.iter().fold(0u64, |h, &c| (h << 8) | c as u64), 0)
    };
    let mut h = (n as u64) ^ ((ns as u64) << 40);
    h = (h ^ head).wrapping_mul(K);
    h = (h.rotate_left(29) ^ tail).wrapping_mul(K);
    (h >> 32) as u32
}

/// The open-addressing (linear probing) table of `keys` = (namespace number, local name)
/// by name id: a power-of-two number of slots, each a name id or [`EMPTY`].
pub fn table<S: AsRef<str>>(keys: &[(u32, S)]) -> Vec<u32> {
    let size = (keys.len() * 4).next_power_of_two().max(16);
    let mut t = vec![EMPTY; size];
    for (id, (ns, local)) in keys.iter().enumerate() {
        let mut i = hash(*ns, local.as_ref()) as usize & (size - 1);
        while t[i] != EMPTY {
            i = (i + 1) & (size - 1);
        }
        t[i] = id as u32;
    }
    t
}

/// The distinct namespaces of `names` = (namespace, local name) in order of first use,
/// and each name's namespace number.
pub fn namespaces<S: AsRef<str>>(names: &[(S, S)]) -> (Vec<String>, Vec<u32>) {
    let mut nss: Vec<String> = Vec::new();
    let mut of = Vec::with_capacity(names.len());
    for (ns, _) in names {
        let ns = ns.as_ref();
        let i = match nss.iter().position(|n| n == ns) {
            Some(i) => i,
            None => {
                nss.push(ns.to_string());
                nss.len() - 1
            }
        };
        of.push(i as u32);
    }
    (nss, of)
}
