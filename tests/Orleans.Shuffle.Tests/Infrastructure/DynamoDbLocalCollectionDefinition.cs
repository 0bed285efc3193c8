using Orleans.Shuffle.Testing;

namespace Orleans.Shuffle.Tests.Infrastructure;

/// <summary>xunit finds collection definitions only in the test assembly itself: this one shares one DynamoDB Local.</summary>
[CollectionDefinition(DynamoDbLocalCollection.Name, DisableParallelization = true)]
public sealed class DynamoDbLocalCollectionDefinition : DynamoDbLocalCollection;
