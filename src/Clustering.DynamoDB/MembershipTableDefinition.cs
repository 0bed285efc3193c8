using Amazon.DynamoDBv2;
using Orleans.Shuffle.AWSUtils;

namespace Orleans.Shuffle.Clustering.DynamoDB;

/// <summary>The membership table as Orleans.Clustering.DynamoDB creates it: string keys DeploymentId and SiloIdentity, no index, no TTL.</summary>
internal static class MembershipTableDefinition
{
    public static DynamoDBTableDefinition For(DynamoDBClusteringOptions options) => new()
    {
        TableName = options.TableName,
        HashKey = new DynamoDBKeyAttribute(SiloInstanceItem.DeploymentId, ScalarAttributeType.S),
        RangeKey = new DynamoDBKeyAttribute(SiloInstanceItem.SiloIdentity, ScalarAttributeType.S),
        Purpose = "membership",
        Section = DynamoDBClusteringOptions.SectionName,
        Operations = "GetItem, PutItem, UpdateItem, DeleteItem, Query, BatchWriteItem, TransactGetItems and TransactWriteItems",
    };
}
