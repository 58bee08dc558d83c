//! The block-sync request-response protocol: its messages and their wire codec.
//!
//! One request per stream: the requester writes `encode(SyncRequest)` and closes its
//! write side; the responder writes `encode(SyncResponse)` and closes. The encoding is
//! `ledger::codec` (bincode, fixed-width little-endian), the same as everything else we
//! sign or store, so there is one codec to audit. Each side reads at most a configured
//! number of bytes and refuses a stream that has more, before decoding anything, so a
//! peer cannot make us buffer more than [`super::NetLimits::max_sync_response_bytes`].

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use serde::{Deserialize, Serialize};
use tongban_ledger::codec;

/// The protocol name negotiated on each sync stream.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/tongban/sync/1");

/// Asks a peer for committed blocks starting at `from_height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// First height wanted.
    pub from_height: u64,
    /// At most this many blocks; the responder also applies its own cap.
    pub max_blocks: u32,
}

/// Committed blocks, consecutive from the requested height, each `encode((Block, Commit))`.
///
/// The network layer does not look inside the blocks: the node decodes and verifies them
/// (the commit signatures are what make a block trustworthy, not the peer that sent it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Encoded `(Block, Commit)` pairs, ascending by height; empty if the peer has none.
    pub blocks: Vec<Vec<u8>>,
}

impl SyncResponse {
    /// Size of this response on the wire.
    pub fn encoded_len(&self) -> usize {
        // Vec length prefix, then per block a length prefix and the bytes (codec.rs).
        8 + self.blocks.iter().map(|b| 8 + b.len()).sum::<usize>()
    }
}

/// Reads and writes [`SyncRequest`] and [`SyncResponse`] with a size limit per direction.
#[derive(Debug, Clone, Copy)]
pub struct SyncCodec {
    /// Largest request we read.
    pub max_request_bytes: usize,
    /// Largest response we read.
    pub max_response_bytes: usize,
}

/// Reads the whole stream, refusing more than `max` bytes.
async fn read_limited<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    let read_cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    io.take(read_cap).read_to_end(&mut bytes).await?;
    if bytes.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("sync message larger than {max} bytes"),
        ));
    }
    Ok(bytes)
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> io::Result<T> {
    codec::decode(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

async fn write_limited<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: &[u8],
    max: usize,
) -> io::Result<()> {
    // The peer would refuse it anyway; failing here keeps the error on the side that
    // made the mistake.
    if bytes.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("sync message of {} bytes exceeds {max}", bytes.len()),
        ));
    }
    io.write_all(bytes).await?;
    io.close().await
}

#[async_trait::async_trait]
impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode(&read_limited(io, self.max_request_bytes).await?)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode(&read_limited(io, self.max_response_bytes).await?)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_limited(io, &codec::encode(&request), self.max_request_bytes).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_limited(io, &codec::encode(&response), self.max_response_bytes).await
    }
}

/// Drops blocks from the end of `response` until it has at most `max_blocks` blocks and
/// encodes to at most `max_bytes`. The requester then asks again from where it stopped,
/// so a shorter answer is always correct, where an oversized one would be refused whole.
pub(crate) fn truncate_response(response: &mut SyncResponse, max_blocks: u32, max_bytes: usize) {
    let max_blocks = usize::try_from(max_blocks).unwrap_or(usize::MAX);
    response.blocks.truncate(max_blocks);
    let mut size = response.encoded_len();
    while size > max_bytes {
        match response.blocks.pop() {
            Some(block) => size -= 8 + block.len(),
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libp2p::request_response::Codec as _;

    fn codec() -> SyncCodec {
        SyncCodec {
            max_request_bytes: 64,
            max_response_bytes: 64,
        }
    }

    #[test]
    fn golden_request_bytes() {
        let request = SyncRequest {
            from_height: 0x0102_0304_0506_0708,
            max_blocks: 0x0a0b_0c0d,
        };
        let bytes = codec::encode(&request);
        assert_eq!(hex::encode(&bytes), "08070605040302010d0c0b0a");
        assert_eq!(codec::decode::<SyncRequest>(&bytes).ok(), Some(request));
    }

    #[test]
    fn golden_response_bytes() {
        let response = SyncResponse {
            blocks: vec![vec![0xaa, 0xbb], vec![]],
        };
        let bytes = codec::encode(&response);
        assert_eq!(
            hex::encode(&bytes),
            concat!(
                "0200000000000000",
                "0200000000000000aabb",
                "0000000000000000"
            )
        );
        assert_eq!(bytes.len(), response.encoded_len());
        assert_eq!(codec::decode::<SyncResponse>(&bytes).ok(), Some(response));
    }

    #[test]
    fn reads_a_request_at_the_limit_and_refuses_one_over() {
        futures::executor::block_on(async {
            let mut c = codec();
            let bytes = codec::encode(&SyncRequest {
                from_height: 7,
                max_blocks: 3,
            });
            c.max_request_bytes = bytes.len();
            let mut io = futures::io::Cursor::new(bytes.clone());
            let request = c.read_request(&SYNC_PROTOCOL, &mut io).await;
            assert_eq!(
                request.ok(),
                Some(SyncRequest {
                    from_height: 7,
                    max_blocks: 3
                })
            );

            c.max_request_bytes = bytes.len() - 1;
            let mut io = futures::io::Cursor::new(bytes);
            let err = c.read_request(&SYNC_PROTOCOL, &mut io).await.err();
            assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
        });
    }

    #[test]
    fn refuses_a_response_over_the_limit_without_decoding_it() {
        futures::executor::block_on(async {
            let mut c = codec();
            let response = SyncResponse {
                blocks: vec![vec![1; 100]],
            };
            let mut io = futures::io::Cursor::new(codec::encode(&response));
            let err = c.read_response(&SYNC_PROTOCOL, &mut io).await.err();
            assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::InvalidData));
        });
    }

    #[test]
    fn refuses_malformed_and_trailing_bytes() {
        futures::executor::block_on(async {
            let mut c = codec();
            let mut io = futures::io::Cursor::new(vec![1, 2, 3]);
            assert!(c.read_request(&SYNC_PROTOCOL, &mut io).await.is_err());
            let mut bytes = codec::encode(&SyncRequest {
                from_height: 1,
                max_blocks: 1,
            });
            bytes.push(0);
            let mut io = futures::io::Cursor::new(bytes);
            assert!(c.read_request(&SYNC_PROTOCOL, &mut io).await.is_err());
            // A hostile length prefix claims 2^40 blocks: refused, nothing allocated.
            let mut io = futures::io::Cursor::new(vec![0, 0, 0, 0, 0, 1, 0, 0]);
            assert!(c.read_response(&SYNC_PROTOCOL, &mut io).await.is_err());
        });
    }

    #[test]
    fn refuses_to_write_an_oversized_message() {
        futures::executor::block_on(async {
            let mut c = codec();
            let mut out = futures::io::Cursor::new(Vec::new());
            let response = SyncResponse {
                blocks: vec![vec![0; 100]],
            };
            let err = c
                .write_response(&SYNC_PROTOCOL, &mut out, response)
                .await
                .err();
            assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::InvalidInput));
            assert!(out.get_ref().is_empty());
        });
    }

    #[test]
    fn truncation_keeps_a_prefix_that_fits() {
        let mut response = SyncResponse {
            blocks: vec![vec![0; 10], vec![0; 10], vec![0; 10], vec![0; 10]],
        };
        truncate_response(&mut response, 3, 8 + 2 * 18);
        assert_eq!(response.blocks.len(), 2);
        assert!(codec::encode(&response).len() <= 8 + 2 * 18);

        let mut response = SyncResponse {
            blocks: vec![vec![0; 10]; 4],
        };
        truncate_response(&mut response, 1, 1 << 20);
        assert_eq!(response.blocks.len(), 1);

        let mut response = SyncResponse {
            blocks: vec![vec![0; 100]],
        };
        truncate_response(&mut response, 5, 50);
        assert!(response.blocks.is_empty());
    }

    proptest::proptest! {
        /// Any bytes from a peer give a request, a response or an error: never a panic,
        /// never more than the limit read.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            futures::executor::block_on(async {
                let mut c = SyncCodec { max_request_bytes: 128, max_response_bytes: 128 };
                let mut io = futures::io::Cursor::new(bytes.clone());
                let request = c.read_request(&SYNC_PROTOCOL, &mut io).await;
                if let Ok(request) = request {
                    proptest::prop_assert_eq!(codec::encode(&request), bytes.clone());
                }
                let mut io = futures::io::Cursor::new(bytes.clone());
                if let Ok(response) = c.read_response(&SYNC_PROTOCOL, &mut io).await {
                    // One value has one encoding (no trailing bytes accepted).
                    proptest::prop_assert_eq!(codec::encode(&response), bytes);
                }
                Ok(())
            })?;
        }

        /// Whatever a node answers, what we send fits the request and the byte limit.
        #[test]
        fn truncation_always_fits(
            sizes in proptest::collection::vec(0usize..200, 0..20),
            max_blocks in 0u32..25,
            max_bytes in 0usize..2000,
        ) {
            let mut response = SyncResponse { blocks: sizes.iter().map(|n| vec![0; *n]).collect() };
            truncate_response(&mut response, max_blocks, max_bytes);
            proptest::prop_assert!(response.blocks.len() <= max_blocks as usize);
            let encoded = codec::encode(&response).len();
            proptest::prop_assert!(encoded <= max_bytes || response.blocks.is_empty());
            // A prefix of what was offered, in order.
            for (block, size) in response.blocks.iter().zip(&sizes) {
                proptest::prop_assert_eq!(block.len(), *size);
            }
        }
    }
}
