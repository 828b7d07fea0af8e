package sample;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

public class Graph {
    private final List<List<Integer>> adj = new ArrayList<>();

    public Graph(int n) {
        for (int i = 0; i < n; i++) {
            adj.add(new ArrayList<>());
        }
    }

    public void addEdge(int a, int b) {
        adj.get(a).add(b);
        adj.get(b).add(a);
    }

    public int[] distances(int source) {
        int[] dist = new int[adj.size()];
        java.util.Arrays.fill(dist, -1);
        ArrayDeque<Integer> queue = new ArrayDeque<>();
        dist[source] = 0;
        queue.add(source);
        while (!queue.isEmpty()) {
            int u = queue.poll();
            for (int v : adj.get(u)) {
                if (dist[v] < 0) {
                    dist[v] = dist[u] + 1;
                    queue.add(v);
                }
            }
        }
        return dist;
    }
}
