package dev.fila.client;

import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannelBuilder;
import java.time.Duration;
import java.util.List;

/** What {@link FilaClientBuilder} collected: how to connect, and the client's defaults. */
record ClientOptions(
    String addr,
    String apiKey,
    ChannelCredentials credentials,
    Duration timeout,
    RetryPolicy retry,
    Duration ackLinger,
    int ackMaxBatch,
    List<ClientInterceptor> interceptors,
    List<java.util.function.Consumer<ManagedChannelBuilder<?>>> channelConfigurators) {}
