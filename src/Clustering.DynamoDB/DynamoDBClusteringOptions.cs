using Orleans.Shuffle.AWSUtils;

namespace Orleans.Shuffle.Clustering.DynamoDB;

/// <summary>
/// Settings of the DynamoDB membership table (silos) and gateway list (clients), after Orleans'
/// DynamoDBClusteringOptions. The cluster id, which is the table's hash key, is Orleans' ClusterOptions.ClusterId.
/// </summary>
public sealed class DynamoDBClusteringOptions : DynamoDBClientOptions
{
    /// <summary>The table Orleans.Clustering.DynamoDB uses by default.</summary>
    public const string DefaultTableName = "OrleansSilos";

    /// <summary>Where the settings are named in messages.</summary>
    public const string SectionName = "DynamoDBClustering";

    /// <summary>
    /// Name of the table. Default "OrleansSilos", as Orleans'. Each cluster id is one hash key in it,
    /// so clusters can share a table. A client only reads it (dynamodb:GetItem and Query).
    /// </summary>
    public override string TableName { get; set; } = DefaultTableName;
}
