namespace Orleans.Shuffle.Silo.DataPlane;

/// <summary>
/// The silo's services first, then those of the data endpoint's own Kestrel container: the
/// connection handler comes from the silo, while Kestrel's TLS middleware asks its application
/// services for Kestrel's own (its HTTPS configuration and metrics), which a silo without an HTTP
/// port does not have.
/// </summary>
internal sealed class FallbackServiceProvider(IServiceProvider first, IServiceProvider second) : IServiceProvider
{
    public object? GetService(Type serviceType) => first.GetService(serviceType) ?? second.GetService(serviceType);
}
