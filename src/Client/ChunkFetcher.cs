using Orleans.Shuffle.Messages;
using Orleans.Shuffle.Wire;

namespace Orleans.Shuffle.Client;

/// <summary>
/// Fetches one chunk and verifies it before the reader sees any of it. Fetches are idempotent, so
/// a lost connection or a corrupt reply is answered by fetching again (bounded); a reader never
/// returns a batch it could not vouch for. A silo that timed out or could not be reached is asked
/// again only when no other copy is left: else the other copy is the retry, and a hung silo costs
/// one request timeout, not one per attempt. What still fails is thrown, and the reader reads the
/// epoch from its next copy.
/// </summary>
internal static class ChunkFetcher
{
    /// <param name="otherCopyLeft">The epoch has a copy the reader has not tried yet.</param>
    public static async Task<FetchedChunk> FetchAsync(IChunkSource source, FetchChunk request, ChunkRef chunk, bool otherCopyLeft, CancellationToken cancellationToken)
    {
        var silo = chunk.Silo;
        for (int attempt = 0; attempt <= RetryPolicy.FetchRetries; attempt++)
        {
            FetchedChunk? fetched = null;
            try
            {
                fetched = await source.FetchChunkAsync(silo.Host, silo.Port, request, cancellationToken).ConfigureAwait(false);
                CheckLength(fetched, request, chunk);
                fetched.Verify();
                return fetched;
            }
            catch (GridException e) when (attempt < RetryPolicy.FetchRetries && IsWorthRefetching(e.Code, otherCopyLeft))
            {
                fetched?.Dispose();
                await Task.Delay(RetryPolicy.Backoff(attempt, RetryPolicy.FirstBackoff, RetryPolicy.MaxBackoff), cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (GridException e)
            {
                fetched?.Dispose();
                throw new GridException(e.Code,
                    $"Fetching chunk {request.ChunkIndex} of partition {request.PartitionId} epoch {request.Epoch} " +
                    $"({new ShuffleKey(request.AppId, request.ShuffleId)}) from silo {silo.Endpoint} failed: {e.Message}", e);
            }
            catch
            {
                fetched?.Dispose();
                throw;
            }
        }
        // Unreachable: the last attempt either returns or throws out of the loop.
        throw new GridException(GridErrorCode.Internal, $"Chunk {request.ChunkIndex} of partition {request.PartitionId} was not fetched.");
    }

    /// <summary>
    /// A full-range chunk must be exactly the committed size; a map-range chunk is filtered by the
    /// silo and can only be smaller. Anything else means the silo serves a different file.
    /// </summary>
    private static void CheckLength(FetchedChunk fetched, FetchChunk request, ChunkRef chunk)
    {
        bool wrong = request.IsFullRange ? fetched.Length != chunk.ExpectedBytes : fetched.Length > chunk.ExpectedBytes;
        if (wrong)
        {
            throw new GridException(GridErrorCode.DataLost,
                $"The silo returned {fetched.Length} bytes for a chunk committed with {chunk.ExpectedBytes} bytes.");
        }
    }

    private static bool IsWorthRefetching(GridErrorCode code, bool otherCopyLeft) => code switch
    {
        // The bytes broke on the way, or the connection did (a silo closing an idle one as the request went out).
        GridErrorCode.ConnectionLost or GridErrorCode.ChecksumMismatch or GridErrorCode.MalformedFrame => true,
        // The silo is slow, hung or gone: its other copy is the better retry.
        GridErrorCode.Timeout or GridErrorCode.SiloUnavailable => !otherCopyLeft,
        _ => false,
    };
}
