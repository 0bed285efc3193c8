namespace Orleans.Shuffle.Testing;

/// <summary>
/// The tests against DynamoDB Local share one emulator per test assembly and run one at a time.
/// xunit finds collection definitions only in the test assembly itself, so each test project
/// declares the collection with this line, and its tests say [Collection(DynamoDbLocalCollection.Name)]:
/// <code>
/// [CollectionDefinition(DynamoDbLocalCollection.Name, DisableParallelization = true)]
/// public sealed class DynamoDbLocalCollectionDefinition : DynamoDbLocalCollection;
/// </code>
/// </summary>
public abstract class DynamoDbLocalCollection : ICollectionFixture<DynamoDbLocalFixture>
{
    public const string Name = "DynamoDB Local";
}
