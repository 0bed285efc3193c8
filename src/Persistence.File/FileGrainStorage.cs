using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Shuffle.FileStore;
using Orleans.Storage;

namespace Orleans.Shuffle.Persistence.File;

/// <summary>
/// The embedded grain storage: one JSON file per grain state under the cluster directory's
/// <see cref="FileStoreLayout.GrainStateDirectory"/>, shared by the silos of one machine, so a grain
/// that activates again on another silo reads what the one before it wrote. The file name is the
/// SHA-256 of (storage name, service id, grain id, state name): no name given to the storage ever
/// forms a path. A change holds one of 256 lock files (by the name's first two hex digits) and
/// replaces the file atomically; reads take no lock.
/// <para>
/// ETags behave as in the DynamoDB grain storage: 0 for the first write, then + 1; a write names the
/// ETag it read (none for a first write) or fails with <see cref="InconsistentStateException"/>
/// without changing anything; a clear leaves a cleared record with the next ETag, or deletes the
/// file with DeleteStateOnClear.
/// </para>
/// </summary>
public sealed class FileGrainStorage : IGrainStorage
{
    private readonly FileGrainStorageOptions _options;
    private readonly IActivatorProvider _activators;
    private readonly TimeProvider _time;

    [ActivatorUtilitiesConstructor]
    public FileGrainStorage(string name, FileGrainStorageOptions options, IOptions<ClusterOptions> cluster, IActivatorProvider activators, TimeProvider time)
        : this(name, options, cluster.Value.ClusterId, cluster.Value.ServiceId, activators, time)
    {
    }

    /// <summary>The storage named <paramref name="name"/> of service <paramref name="serviceId"/>, in the directory of <paramref name="options"/> (or cluster <paramref name="clusterId"/>'s default).</summary>
    public FileGrainStorage(string name, FileGrainStorageOptions options, string clusterId, string serviceId, IActivatorProvider activators, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        ArgumentException.ThrowIfNullOrEmpty(serviceId);
        ArgumentNullException.ThrowIfNull(activators);
        FileStoreOptionsValidator<FileGrainStorageOptions>.Check(options, SectionName(name));
        if (options.GrainStorageSerializer is null)
            throw new OrleansConfigurationException($"{SectionName(name)}:GrainStorageSerializer is not set (a silo sets it from its IGrainStorageSerializer).");
        Name = name;
        ServiceId = serviceId;
        StateDirectory = Path.Combine(options.ResolveDirectory(clusterId), FileStoreLayout.GrainStateDirectory);
        _options = options;
        _activators = activators;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The provider's name, as grains name it in [PersistentState(stateName, storageName)].</summary>
    public string Name { get; }

    public string ServiceId { get; }

    /// <summary>The directory of the state files.</summary>
    public string StateDirectory { get; }

    /// <summary>Where the settings of storage <paramref name="name"/> are named in messages.</summary>
    public static string SectionName(string name) => $"FileGrainStorage:{name}";

    /// <summary>The file of one grain state.</summary>
    public string StateFilePath(string stateName, GrainId grainId) => Path.Combine(StateDirectory, FileName(stateName, grainId) + ".json");

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken = default)
    {
        var document = await File(stateName, grainId).ReadAsync(cancellationToken).ConfigureAwait(false);
        if (document.ETag is not { } etag)
        {
            Reset(grainState, etag: null);
            return;
        }
        if (document.State is not { Length: > 0 } data)
        {
            Reset(grainState, Etag(etag));
            return;
        }
        T? state = Deserialize<T>(data, stateName, grainId);
        grainState.State = state ?? Create<T>();
        grainState.RecordExists = state is not null;
        grainState.ETag = Etag(etag);
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken = default)
    {
        byte[] data = _options.GrainStorageSerializer.Serialize(grainState.State).ToArray();
        long? expected = ParseExpected(grainState.ETag, stateName, grainId);
        long written = await File(stateName, grainId).UpdateAsync(document =>
        {
            CheckExpected(document, expected, stateName, grainId);
            Identify(document, stateName, grainId);
            document.ETag = expected is null ? 0 : expected.Value + 1;
            document.State = data;
            return (document.ETag.Value, FileChange.Write);
        }, cancellationToken).ConfigureAwait(false);
        grainState.ETag = Etag(written);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken = default)
    {
        long? expected = ParseExpected(grainState.ETag, stateName, grainId);
        long? left = await File(stateName, grainId).UpdateAsync(document =>
        {
            if (expected is null)
            {
                // The caller saw no record: true if there is none, or only a cleared one; a state is a conflict.
                if (document.State is not null) throw Conflict(document, null, stateName, grainId);
                return (document.ETag, FileChange.None);
            }
            CheckExpected(document, expected, stateName, grainId);
            if (_options.DeleteStateOnClear) return ((long?)null, FileChange.Delete);
            document.ETag = expected.Value + 1;
            document.State = null;
            return (document.ETag, FileChange.Write);
        }, cancellationToken).ConfigureAwait(false);
        Reset(grainState, left is { } etag ? Etag(etag) : null);
    }

    Task IGrainStorage.ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    Task IGrainStorage.WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    Task IGrainStorage.ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    private string FileName(string stateName, GrainId grainId)
    {
        ArgumentException.ThrowIfNullOrEmpty(stateName);
        return FileStoreLayout.Hash(Name, ServiceId, grainId.ToString(), stateName);
    }

    private LockedJsonFile<GrainStateDocument> File(string stateName, GrainId grainId)
    {
        string name = FileName(stateName, grainId);
        string lockPath = Path.Combine(StateDirectory, FileStoreLayout.GrainStateLockDirectory, name[..2] + ".lock");
        return new LockedJsonFile<GrainStateDocument>(Path.Combine(StateDirectory, name + ".json"), () => new GrainStateDocument(), _options.LockTimeout, lockPath, _time);
    }

    private void Identify(GrainStateDocument document, string stateName, GrainId grainId)
    {
        document.Storage = Name;
        document.ServiceId = ServiceId;
        document.GrainId = grainId.ToString();
        document.StateName = stateName;
    }

    private static void CheckExpected(GrainStateDocument document, long? expected, string stateName, GrainId grainId)
    {
        if (document.ETag != expected) throw Conflict(document, expected, stateName, grainId);
    }

    private static InconsistentStateException Conflict(GrainStateDocument document, long? expected, string stateName, GrainId grainId)
    {
        string stored = document.ETag is { } etag ? Etag(etag) : "none";
        string current = expected is { } e ? Etag(e) : "none";
        return new InconsistentStateException($"State {stateName} of {grainId} has etag {stored}, not {current}: another activation wrote it.", stored, current);
    }

    private static long? ParseExpected(string? etag, string stateName, GrainId grainId)
    {
        if (string.IsNullOrWhiteSpace(etag)) return null;
        if (long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out long value)) return value;
        throw new InconsistentStateException($"State {stateName} of {grainId}: '{etag}' is not an etag of the file grain storage.", "unknown", etag);
    }

    private T? Deserialize<T>(byte[] data, string stateName, GrainId grainId)
    {
        try
        {
            return _options.GrainStorageSerializer.Deserialize<T>(new BinaryData(data));
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"State {stateName} of {grainId} in {StateFilePath(stateName, grainId)} does not deserialize as {typeof(T)}: {e.Message}", e);
        }
    }

    private void Reset<T>(IGrainState<T> grainState, string? etag)
    {
        grainState.State = Create<T>();
        grainState.RecordExists = false;
        grainState.ETag = etag;
    }

    private T Create<T>() => _activators.GetActivator<T>().Create();

    private static string Etag(long etag) => etag.ToString(CultureInfo.InvariantCulture);
}
