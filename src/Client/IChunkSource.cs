using Orleans.Shuffle.Messages;

namespace Orleans.Shuffle.Client;

/// <summary>What a <see cref="ShuffleReader"/> needs from the grid; a seam so the reader can be tested without a silo.</summary>
internal interface IChunkSource
{
    /// <summary>The committed file group of the shuffle, waiting for the commit if needed.</summary>
    Task<IndexedFileGroup> GetFileGroupAsync(string appId, int shuffleId, CancellationToken cancellationToken);

    /// <summary>Throws UnknownShuffle or UnknownApplication if the shuffle is no longer registered (someone unregistered it).</summary>
    Task ConfirmShuffleAsync(string appId, int shuffleId, CancellationToken cancellationToken);

    /// <summary>Sends one FetchChunk to the data endpoint at host:port; the chunk is not yet verified.</summary>
    Task<FetchedChunk> FetchChunkAsync(string host, int port, FetchChunk request, CancellationToken cancellationToken);
}
