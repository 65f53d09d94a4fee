package io.blockmover.mover.transport.vddk;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.blockmover.nbd.units.ByteRange;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Changed areas from the emulated host's control API ({@code GET /changed?export=E&changeId=C&start=O}),
 * which answers like vSphere's QueryChangedDiskAreas: one slice of the disk per call, so the
 * client asks again from where the slice ended until it covers the disk.
 *
 * @param url the API's {@code /changed} address with the disk's export, e.g.
 *            {@code http://127.0.0.1:8080/changed?export=vm01/disk-2000@snap-2}
 */
public record EsxChangedAreas(String url) implements ChangedAreas {
    private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public CompletableFuture<List<ByteRange>> since(String changeId, long capacity) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return query(changeId, capacity);
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.util.concurrent.CompletionException(e);
            }
        });
    }

    private List<ByteRange> query(String changeId, long capacity) throws IOException, InterruptedException {
        List<ByteRange> out = new ArrayList<>();
        long start = 0;
        while (start < capacity) {
            String address = url + (url.contains("?") ? "&" : "?") + "changeId=" + URLEncoder.encode(changeId, StandardCharsets.UTF_8)
                    + "&start=" + start;
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(address)).timeout(Duration.ofSeconds(60)).build(),
                    HttpResponse.BodyHandlers.ofString());
            JsonNode answer;
            try {
                answer = JSON.readTree(r.body());
            } catch (JsonProcessingException e) {
                throw new IOException("changed areas: unexpected answer from " + url + ": " + r.body());
            }
            if (r.statusCode() != 200) {
                throw new IOException("changed areas since " + changeId + ": "
                        + (answer.path("error").isTextual() ? answer.path("error").asText() : "HTTP " + r.statusCode()));
            }
            long end = answer.path("startOffset").asLong() + answer.path("length").asLong();
            for (JsonNode a : answer.path("areas")) {
                ByteRange range = new ByteRange(a.path("offset").asLong(), a.path("length").asLong());
                if (!out.isEmpty() && out.getLast().end() == range.offset()) {
                    out.set(out.size() - 1, new ByteRange(out.getLast().offset(), range.end() - out.getLast().offset()));
                } else {
                    out.add(range);
                }
            }
            if (end <= start) {
                throw new IOException("changed areas: the answer from " + url + " did not advance past offset " + start);
            }
            start = end;
        }
        return out;
    }
}
