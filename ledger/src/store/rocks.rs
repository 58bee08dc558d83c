//! The RocksDB [`Store`]: one column family per [`Column`], one synced write batch per
//! call to [`Store::write`].
//!
//! Durability: every write uses `WriteOptions::set_sync(true)`, so when `write` returns
//! the batch is in the fsynced write-ahead log; a `kill -9` or power loss afterwards
//! cannot lose it, and a crash during it loses all of it (RocksDB batches are atomic).
//! After a failed write the store refuses every later write ([`StoreError::Failed`]):
//! the caller must stop and restart from what is on disk.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Options,
    ReadOptions, SliceTransform, WriteBatch, WriteOptions, DB,
};

use super::{Column, Entry, Store, StoreBatch, StoreError, MAX_SCAN_ENTRIES};

/// Size of the block cache shared by all column families.
pub const BLOCK_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// Size of each column family's memtable.
pub const WRITE_BUFFER_BYTES: usize = 64 * 1024 * 1024;
/// A RocksDB write batch's header (sequence number and count).
const WRITE_BATCH_HEADER_BYTES: usize = 12;
/// Most bytes a batch adds per operation besides key and value: type, column family
/// id and two length varints.
const WRITE_BATCH_OP_BYTES: usize = 1 + 5 + 5 + 5;
/// Length of the key prefix of `state_values` (the key hash), for prefix blooms.
const STATE_VALUE_PREFIX: usize = 32;

/// A [`Store`] in a RocksDB directory.
#[derive(Debug)]
pub struct RocksStore {
    db: DB,
    failed: AtomicBool,
}

fn backend(e: rocksdb::Error) -> StoreError {
    StoreError::Backend(e.into_string())
}

fn column_options(column: Column, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    // Point reads dominate (state nodes, blocks by height, records by hash): a bloom
    // filter saves a disk read on every miss.
    table.set_bloom_filter(10.0, false);
    let mut options = Options::default();
    options.set_write_buffer_size(WRITE_BUFFER_BYTES);
    options.set_compression_type(if column == Column::StateNodes {
        // A state node is mostly 32-byte hashes, which do not compress: LZ4 would cost
        // CPU on every flush, compaction and block read for a few percent of size.
        DBCompressionType::None
    } else {
        DBCompressionType::Lz4
    });
    if column == Column::StateValues {
        // "Value of key k as of version v" is a seek within k's versions.
        options.set_prefix_extractor(SliceTransform::create_fixed_prefix(STATE_VALUE_PREFIX));
        options.set_memtable_prefix_bloom_ratio(0.1);
    }
    options.set_block_based_table_factory(&table);
    options
}

impl RocksStore {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.increase_parallelism(2);
        options.set_max_background_jobs(2);
        // Hyper clock: a lookup takes no lock and moves nothing (an LRU list moved its
        // entry on every hit: a tenth of reading a state node). 0: RocksDB sizes the
        // table itself.
        let cache = Cache::new_hyper_clock_cache(BLOCK_CACHE_BYTES, 0);
        let descriptors: Vec<ColumnFamilyDescriptor> = Column::ALL
            .iter()
            .map(|c| ColumnFamilyDescriptor::new(c.name(), column_options(*c, &cache)))
            .collect();
        let db = DB::open_cf_descriptors(&options, path, descriptors).map_err(backend)?;
        Ok(RocksStore {
            db,
            failed: AtomicBool::new(false),
        })
    }

    fn cf(&self, column: Column) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(column.name())
            .ok_or_else(|| StoreError::Backend(format!("missing column family {}", column.name())))
    }

    /// Flushes memtables to SST files (not needed for durability: the WAL is synced;
    /// useful before measuring or copying a directory).
    pub fn flush(&self) -> Result<(), StoreError> {
        for column in Column::ALL {
            self.db.flush_cf(self.cf(column)?).map_err(backend)?;
        }
        Ok(())
    }

    /// Writes a consistent copy of the store as it is now to `dir` (which must not
    /// exist): SST files hard-linked where `dir` is on the same file system, the rest
    /// copied. A RocksDB directory of its own, for [`RocksStore::open`]: a backup, or a
    /// second node's starting point.
    pub fn checkpoint(&self, dir: &Path) -> Result<(), StoreError> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)
            .and_then(|checkpoint| checkpoint.create_checkpoint(dir))
            .map_err(backend)
    }
}

impl Store for RocksStore {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self
            .db
            .get_pinned_cf(self.cf(column)?, key)
            .map_err(backend)?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn floor(
        &self,
        column: Column,
        prefix: &[u8],
        key: &[u8],
    ) -> Result<Option<Entry>, StoreError> {
        Ok(self.floor_many(column, &[(prefix, key)])?.pop().flatten())
    }

    fn floor_many(
        &self,
        column: Column,
        queries: &[(&[u8], &[u8])],
    ) -> Result<Vec<Option<Entry>>, StoreError> {
        let mut read = ReadOptions::default();
        // Within one key's versions the prefix blooms can skip files; any other seek
        // must see the whole order.
        let by_prefix = column == Column::StateValues
            && queries
                .iter()
                .all(|(prefix, _)| prefix.len() == STATE_VALUE_PREFIX);
        if by_prefix {
            read.set_prefix_same_as_start(true);
        } else {
            read.set_total_order_seek(true);
        }
        // One iterator for all: creating one costs more than a seek, and each seek
        // starts afresh (with its own prefix).
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(column)?, read);
        let mut out = Vec::with_capacity(queries.len());
        for (prefix, key) in queries {
            iter.seek_for_prev(key);
            out.push(match (iter.key(), iter.value()) {
                (Some(k), Some(v)) if k.starts_with(prefix) => Some((k.to_vec(), v.to_vec())),
                _ => None,
            });
            iter.status().map_err(backend)?;
        }
        Ok(out)
    }

    fn scan_prefix(
        &self,
        column: Column,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut read = ReadOptions::default();
        read.set_total_order_seek(true);
        let mut iter = self.db.raw_iterator_cf_opt(self.cf(column)?, read);
        iter.seek(prefix);
        let mut out = Vec::new();
        let limit = limit.min(MAX_SCAN_ENTRIES);
        while out.len() < limit {
            match (iter.key(), iter.value()) {
                (Some(k), Some(v)) if k.starts_with(prefix) => out.push((k.to_vec(), v.to_vec())),
                _ => break,
            }
            iter.next();
        }
        iter.status().map_err(backend)?;
        Ok(out)
    }

    fn write(&self, batch: &StoreBatch) -> Result<(), StoreError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(StoreError::Failed);
        }
        // Sized up front: a block's batch is ~18 MB, and growing it by doubling copied
        // it over and over (a third of the write's time).
        let bytes = WRITE_BATCH_HEADER_BYTES
            + batch
                .ops()
                .iter()
                .map(|op| {
                    op.key.len() + op.value.as_ref().map_or(0, Vec::len) + WRITE_BATCH_OP_BYTES
                })
                .sum::<usize>();
        let mut write_batch = WriteBatch::with_capacity_bytes(bytes);
        // Each handle looked up once, not once per operation (~56,000 in a block).
        let handles = Column::ALL
            .iter()
            .map(|column| self.cf(*column))
            .collect::<Result<Vec<_>, _>>()?;
        for op in batch.ops() {
            let cf = handles[op.column.index()];
            match &op.value {
                Some(value) => write_batch.put_cf(cf, &op.key, value),
                None => write_batch.delete_cf(cf, &op.key),
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        let result = self.db.write_opt(write_batch, &options).map_err(backend);
        if result.is_err() {
            self.failed.store(true, Ordering::SeqCst);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_and_floors_across_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = RocksStore::open(dir.path()).expect("open");
            let mut batch = StoreBatch::new();
            let key = [7u8; 32];
            for version in [1u64, 5, 9] {
                let mut k = key.to_vec();
                k.extend_from_slice(&version.to_be_bytes());
                batch.put(Column::StateValues, k, version.to_le_bytes().to_vec());
            }
            batch.put(Column::Meta, b"head".to_vec(), b"1".to_vec());
            store.write(&batch).expect("write");
            store.flush().expect("flush");
            store.put_meta(b"safety", b"s").expect("meta");
        }
        let store = RocksStore::open(dir.path()).expect("reopen");
        assert_eq!(store.meta(b"head").expect("meta"), Some(b"1".to_vec()));
        assert_eq!(store.meta(b"safety").expect("meta"), Some(b"s".to_vec()));
        let floor = |v: u64| {
            let mut k = [7u8; 32].to_vec();
            k.extend_from_slice(&v.to_be_bytes());
            store
                .floor(Column::StateValues, &[7u8; 32], &k)
                .expect("floor")
                .map(|(_, v)| v)
        };
        assert_eq!(floor(0), None);
        assert_eq!(floor(4), Some(1u64.to_le_bytes().to_vec()));
        assert_eq!(floor(9), Some(9u64.to_le_bytes().to_vec()));
        assert_eq!(floor(u64::MAX), Some(9u64.to_le_bytes().to_vec()));
        let mut other = [8u8; 32].to_vec();
        other.extend_from_slice(&0u64.to_be_bytes());
        assert_eq!(
            store
                .floor(Column::StateValues, &[8u8; 32], &other)
                .expect("floor"),
            None
        );
        assert_eq!(
            store
                .scan_prefix(Column::StateValues, &[7u8; 32], 100)
                .expect("scan")
                .len(),
            3
        );
    }

    /// Many floors on one iterator answer exactly as an in-memory store's floors do,
    /// in the order asked, whether the versions sit in files or in the memtable, for
    /// present and absent keys, in either column shape.
    #[test]
    fn floor_many_answers_as_the_memory_store_does() {
        use crate::store::memory::MemoryStore;

        let dir = tempfile::tempdir().expect("tempdir");
        let rocks = RocksStore::open(dir.path()).expect("open");
        let memory = MemoryStore::default();
        let versioned = |key: u8, version: u64| {
            let mut k = [key; 32].to_vec();
            k.extend_from_slice(&version.to_be_bytes());
            k
        };
        // Keys 1..=6 at versions 3 and 7; the second round goes to the memtable
        // after the first is flushed to a file. Indexes hold a few short keys.
        for (round, version) in [3u64, 7].into_iter().enumerate() {
            let mut batch = StoreBatch::new();
            for key in 1..=6u8 {
                let value = [key, version as u8].to_vec();
                batch.put(Column::StateValues, versioned(key, version), value);
            }
            batch.put(Column::Indexes, vec![b'v', round as u8], vec![round as u8]);
            rocks.write(&batch).expect("write");
            memory.write(&batch).expect("write");
            if round == 0 {
                rocks.flush().expect("flush");
            }
        }
        let mut queries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for key in [6u8, 0, 3, 9, 1, 3] {
            for version in [0u64, 2, 3, 5, 7, u64::MAX] {
                queries.push(([key; 32].to_vec(), versioned(key, version)));
            }
        }
        let asked: Vec<(&[u8], &[u8])> = queries
            .iter()
            .map(|(p, k)| (p.as_slice(), k.as_slice()))
            .collect();
        let found = rocks
            .floor_many(Column::StateValues, &asked)
            .expect("floor_many");
        let expected = memory
            .floor_many(Column::StateValues, &asked)
            .expect("floor_many");
        assert_eq!(found, expected);
        // Keys 6, 3, 1 and 3 again, each at versions 3, 5, 7 and the last.
        assert_eq!(found.iter().flatten().count(), 16);
        let short: Vec<(&[u8], &[u8])> = vec![(b"v", b"v\x05"), (b"v", b"v\x00"), (b"w", b"w")];
        assert_eq!(
            rocks.floor_many(Column::Indexes, &short).expect("indexes"),
            memory.floor_many(Column::Indexes, &short).expect("indexes"),
        );
    }

    #[test]
    fn a_checkpoint_is_a_store_of_its_own_as_of_then() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RocksStore::open(&dir.path().join("a")).expect("open");
        let mut batch = StoreBatch::new();
        batch.put(Column::Blocks, b"flushed".to_vec(), b"1".to_vec());
        store.write(&batch).expect("write");
        store.flush().expect("flush");
        // Only in the memtable and the log: the checkpoint has it too.
        store.put_meta(b"head", b"2").expect("meta");
        let copy_dir = dir.path().join("b");
        store.checkpoint(&copy_dir).expect("checkpoint");
        assert!(store.checkpoint(&copy_dir).is_err(), "the directory exists");
        store.put_meta(b"head", b"3").expect("meta");

        let copy = RocksStore::open(&copy_dir).expect("open the copy");
        assert_eq!(copy.meta(b"head").expect("read"), Some(b"2".to_vec()));
        assert_eq!(
            copy.get(Column::Blocks, b"flushed").expect("read"),
            Some(b"1".to_vec())
        );
        copy.put_meta(b"head", b"copy").expect("meta");
        assert_eq!(store.meta(b"head").expect("read"), Some(b"3".to_vec()));
    }

    /// Every column's writes land in that column (the write looks its handles up once,
    /// by position).
    #[test]
    fn each_column_keeps_its_own_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RocksStore::open(dir.path()).expect("open");
        let mut batch = StoreBatch::new();
        for (i, column) in Column::ALL.into_iter().enumerate() {
            batch.put(column, b"k".to_vec(), vec![i as u8]);
        }
        store.write(&batch).expect("write");
        for (i, column) in Column::ALL.into_iter().enumerate() {
            assert_eq!(store.get(column, b"k").expect("get"), Some(vec![i as u8]));
        }
    }

    /// RocksDB chooses its CRC32C when it is compiled: with SSE 4.2 and PCLMUL (set for
    /// its C++ in `.cargo/config.toml`) it uses the CPU's instructions, otherwise
    /// portable table code that was a third of a block's synced write (ADR 0015). It
    /// says which at every open, in its info log.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn rocksdb_checksums_with_the_cpus_crc32c() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(RocksStore::open(dir.path()).expect("open"));
        let log = std::fs::read_to_string(dir.path().join("LOG")).expect("info log");
        let line = log
            .lines()
            .find(|line| line.contains("Fast CRC32 supported"))
            .expect("RocksDB logs its CRC32C support at open");
        assert!(
            line.ends_with("Fast CRC32 supported: Supported on x86"),
            "{line}"
        );
    }

    #[test]
    fn a_second_open_of_the_same_directory_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _first = RocksStore::open(dir.path()).expect("open");
        assert!(matches!(
            RocksStore::open(dir.path()),
            Err(StoreError::Backend(_))
        ));
    }
}
