// The real client for tlsverify's tests: OpenJDK's SunJSSE with the Selected list enabled, in order, TLS 1.2
// only, SNI set, every certificate trusted (certificate checks are not the question here).
// Reads one job per line on standard input: HOST PORT SNI SUITE,SUITE,...
// Prints one line per job: "OK <negotiated suite>" or "FAIL <exception>", and "SUPPORTED <suite>" lines for
// the argument --supported. Suites the JDK does not implement are left out, as an application must.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

public class JsseClient {
    public static void main(String[] args) throws Exception {
        TrustManager[] trustAll = {new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] chain, String type) {}
            public void checkServerTrusted(X509Certificate[] chain, String type) {}
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
        }};
        SSLContext context = SSLContext.getInstance("TLSv1.2");
        context.init(null, trustAll, null);
        String[] supported = context.getSocketFactory().getSupportedCipherSuites();
        if (args.length == 1 && args[0].equals("--supported")) {
            for (String suite : supported) System.out.println("SUPPORTED " + suite);
            return;
        }
        Set<String> implemented = new HashSet<>(Arrays.asList(supported));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] job = line.trim().split(" ");
            if (job.length != 4) continue;
            List<String> suites = new ArrayList<>();
            for (String suite : job[3].split(",")) if (implemented.contains(suite)) suites.add(suite);
            // A new context per job: a cached session would be resumed with the suite of an earlier job.
            SSLContext fresh = SSLContext.getInstance("TLSv1.2");
            fresh.init(null, trustAll, null);
            System.out.println(connect(fresh, job[0], Integer.parseInt(job[1]), job[2], suites));
            System.out.flush();
        }
    }

    static String connect(SSLContext context, String host, int port, String sni, List<String> suites) {
        if (suites.isEmpty()) return "FAIL no Selected suite is implemented";
        try (Socket raw = new Socket()) {
            raw.connect(new InetSocketAddress(host, port), 5000);
            raw.setSoTimeout(5000);
            try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(raw, sni, port, true)) {
                SSLParameters parameters = socket.getSSLParameters();
                parameters.setProtocols(new String[] {"TLSv1.2"});
                parameters.setCipherSuites(suites.toArray(new String[0]));
                parameters.setServerNames(List.of(new SNIHostName(sni)));
                socket.setSSLParameters(parameters);
                socket.startHandshake();
                return "OK " + socket.getSession().getCipherSuite();
            }
        } catch (Exception e) {
            return ("FAIL " + e).replace('\n', ' ');
        }
    }
}
