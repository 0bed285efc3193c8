using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Orleans.Shuffle.Silo.Http;

/// <summary>
/// Who may read the endpoints that list applications (/state): with Silo:OperatorToken set, a
/// request that carries it as <c>Authorization: Bearer &lt;token&gt;</c>, from anywhere; without one,
/// only a request from this machine (a loopback address). /healthz stays open: load balancers and
/// supervisors ask it, and it tells nothing about applications.
/// </summary>
public static class OperatorAccess
{
    /// <summary>Null when <paramref name="remote"/> with <paramref name="authorization"/> may read; else the reason it may not.</summary>
    public static string? Refusal(IPAddress? remote, string? authorization, string operatorToken)
    {
        if (operatorToken.Length == 0)
        {
            return remote is not null && IPAddress.IsLoopback(remote)
                ? null
                : "Only this machine may read /state while Silo:OperatorToken is not set.";
        }
        const string Scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(Scheme, StringComparison.Ordinal))
            return "/state needs the operator token: Authorization: Bearer <Silo:OperatorToken>.";
        // In constant time, so the answer's timing does not tell how much of a guess was right.
        bool matches = CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(authorization[Scheme.Length..])), SHA256.HashData(Encoding.UTF8.GetBytes(operatorToken)));
        return matches ? null : "The operator token does not match.";
    }

    /// <summary>An endpoint filter that answers 401 (with the reason) to a request <see cref="Refusal"/> refuses.</summary>
    public static RouteHandlerBuilder RequireOperator(this RouteHandlerBuilder endpoint, string operatorToken) =>
        endpoint.AddEndpointFilter(async (context, next) =>
        {
            var request = context.HttpContext;
            string? refusal = Refusal(request.Connection.RemoteIpAddress, request.Request.Headers.Authorization, operatorToken);
            if (refusal is null) return await next(context).ConfigureAwait(false);
            request.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Json(new { error = refusal }, statusCode: StatusCodes.Status401Unauthorized);
        });
}
