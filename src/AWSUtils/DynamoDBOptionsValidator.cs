namespace Orleans.Shuffle.AWSUtils;

/// <summary>
/// Stops a silo or client at start-up when a DynamoDB provider's options are invalid, listing every
/// problem (<see cref="DynamoDBClientOptions.Validate"/>) in one <see cref="OrleansConfigurationException"/>.
/// </summary>
public sealed class DynamoDBOptionsValidator<TOptions>(TOptions options, string sectionName) : IConfigurationValidator
    where TOptions : DynamoDBClientOptions
{
    public void ValidateConfiguration() => Check(options, sectionName);

    /// <summary>
    /// Returns <paramref name="options"/> when valid, else throws what the validator throws. Providers
    /// check in their constructors too, so a host that makes a provider before it runs its validators
    /// stops with the same message.
    /// </summary>
    public static TOptions Check(TOptions options, string sectionName)
    {
        var problems = options.Validate(sectionName);
        if (problems.Count > 0)
            throw new OrleansConfigurationException($"Invalid {typeof(TOptions).Name} ({sectionName}): {string.Join(" ", problems)}");
        return options;
    }
}
