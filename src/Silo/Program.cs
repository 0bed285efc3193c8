using Orleans.Shuffle.Silo.Hosting;

return await SiloHost.RunAsync(args);
