//! A writer that refuses to go past a size: where a pulled blob goes (memory or a spool file),
//! so a registry that sends more than the descriptor says fills neither.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

/// Writes into `out`, failing a write that would go past `limit` bytes in all.
pub(super) struct Capped<W> {
    out: W,
    written: u64,
    limit: u64,
}

impl<W> Capped<W> {
    pub(super) fn new(out: W, limit: u64) -> Capped<W> {
        Capped {
            out,
            written: 0,
            limit,
        }
    }

    pub(super) fn into_inner(self) -> W {
        self.out
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Capped<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.written + buf.len() as u64 > this.limit {
            return Poll::Ready(Err(std::io::Error::other(format!(
                "the blob went past its size of {} bytes",
                this.limit
            ))));
        }
        let wrote = Pin::new(&mut this.out).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &wrote {
            this.written += *n as u64;
        }
        wrote
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().out).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().out).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt as _;

    #[test]
    fn writes_up_to_the_limit_and_refuses_past_it() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut out = Vec::new();
            let mut capped = Capped::new(&mut out, 8);
            capped.write_all(b"12345678").await.expect("within");
            let err = capped.write_all(b"9").await.expect_err("past");
            assert!(
                err.to_string().contains("past its size of 8 bytes"),
                "{err}"
            );
            assert_eq!(out, b"12345678");
        });
    }
}
