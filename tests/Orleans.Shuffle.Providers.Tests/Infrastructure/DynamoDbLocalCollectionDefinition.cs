using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Providers.Tests.Infrastructure;

/// <summary>The DynamoDB Local collection of this assembly (xunit looks for definitions only here).</summary>
[CollectionDefinition(DynamoDbLocalCollection.Name, DisableParallelization = true)]
public sealed class DynamoDbLocalCollectionDefinition : DynamoDbLocalCollection;
