// The real client for tlsverify's tests: OpenJDK's SunJSSE with the Selected list enabled, in order, TLS 1.2
// only, SNI set. Every certificate is trusted (certificate checks are not the question) unless a job names a
// trust file: then the JDK's own PKIX trust manager and hostname check decide, as in the client.
// Reads one job per line on standard input: HOST PORT SNI SUITE,SUITE,... [OPTION ...], options being
//   starttls=smtp     EHLO and STARTTLS first, by hand (as a mail library does)
//   starttls=ldap     the JDK's own LDAP client (JNDI) asks for StartTLS; implicit TLS otherwise
//   proxy=HOST:PORT   an HTTP CONNECT tunnel first (HOST and PORT are then what the proxy is asked for)
//   trust=FILE        a PEM file of trust anchors: PKIX and the HTTPS (or, for LDAP, the LDAP) hostname check
//   ldap              an LDAPS server: the hostname check is LDAP's
// Prints one line per job: "OK <negotiated suite>" or "FAIL <exception>", and "SUPPORTED <suite>" lines for
// the argument --supported. Suites the JDK does not implement are left out, as an application must.
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.naming.Context;
import javax.naming.ldap.InitialLdapContext;
import javax.naming.ldap.LdapContext;
import javax.naming.ldap.StartTlsRequest;
import javax.naming.ldap.StartTlsResponse;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

public class JsseClient {
    static final TrustManager[] TRUST_ALL = {new X509TrustManager() {
        public void checkClientTrusted(X509Certificate[] chain, String type) {}
        public void checkServerTrusted(X509Certificate[] chain, String type) {}
        public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
    }};

    public static void main(String[] args) throws Exception {
        SSLContext context = SSLContext.getInstance("TLSv1.2");
        context.init(null, TRUST_ALL, null);
        String[] supported = context.getSocketFactory().getSupportedCipherSuites();
        if (args.length == 1 && args[0].equals("--supported")) {
            for (String suite : supported) System.out.println("SUPPORTED " + suite);
            return;
        }
        Set<String> implemented = new HashSet<>(Arrays.asList(supported));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null; ) {
            String[] job = line.trim().split(" ");
            if (job.length < 4) continue;
            List<String> suites = new ArrayList<>();
            for (String suite : job[3].split(",")) if (implemented.contains(suite)) suites.add(suite);
            Map<String, String> options = new HashMap<>();
            for (int i = 4; i < job.length; i++) {
                String[] pair = job[i].split("=", 2);
                options.put(pair[0], pair.length > 1 ? pair[1] : "");
            }
            String result;
            try {
                // A new context per job: a cached session would be resumed with the suite of an earlier job.
                SSLContext fresh = SSLContext.getInstance("TLSv1.2");
                fresh.init(null, trustManagers(options.get("trust")), null);
                result = connect(fresh, job[0], Integer.parseInt(job[1]), job[2], suites, options);
            } catch (Exception e) {
                result = "FAIL " + e;
            }
            System.out.println(result.replace('\n', ' '));
            System.out.flush();
        }
    }

    static TrustManager[] trustManagers(String file) throws Exception {
        if (file == null) return TRUST_ALL;
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        try (InputStream pem = new FileInputStream(file)) {
            int n = 0;
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(pem)) {
                store.setCertificateEntry("anchor" + n++, c);
            }
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(store);
        return factory.getTrustManagers();
    }

    static String connect(SSLContext context, String host, int port, String sni, List<String> suites,
                          Map<String, String> options) {
        if (suites.isEmpty()) return "FAIL no Selected suite is implemented";
        boolean checked = options.containsKey("trust");
        String identification = options.containsKey("ldap") || "ldap".equals(options.get("starttls")) ? "LDAPS" : "HTTPS";
        try {
            if ("ldap".equals(options.get("starttls")) && !options.containsKey("proxy")) {
                return ldapStartTls(context, host, port, sni, suites, checked);
            }
            try (Socket raw = open(host, port, options.get("proxy"))) {
                raw.setSoTimeout(5000);
                if ("smtp".equals(options.get("starttls"))) smtpStartTls(raw);
                if ("ldap".equals(options.get("starttls"))) ldapStartTlsByHand(raw);
                try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(raw, sni, port, true)) {
                    configure(socket, sni, suites, checked ? identification : null);
                    socket.startHandshake();
                    return "OK " + socket.getSession().getCipherSuite();
                }
            }
        } catch (Exception e) {
            return "FAIL " + e;
        }
    }

    static void configure(SSLSocket socket, String sni, List<String> suites, String identification) {
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setProtocols(new String[] {"TLSv1.2"});
        parameters.setCipherSuites(suites.toArray(new String[0]));
        if (!Character.isDigit(sni.charAt(sni.length() - 1)) && !sni.contains(":")) {
            parameters.setServerNames(List.of(new SNIHostName(sni)));
        }
        if (identification != null) parameters.setEndpointIdentificationAlgorithm(identification);
        socket.setSSLParameters(parameters);
    }

    static Socket open(String host, int port, String proxy) throws IOException {
        Socket raw = new Socket();
        if (proxy == null) {
            raw.connect(new InetSocketAddress(host, port), 5000);
            return raw;
        }
        int colon = proxy.lastIndexOf(':');
        raw.connect(new InetSocketAddress(proxy.substring(0, colon), Integer.parseInt(proxy.substring(colon + 1))), 5000);
        raw.setSoTimeout(5000);
        String authority = (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
        OutputStream out = raw.getOutputStream();
        out.write(("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
        String head = readUntil(raw.getInputStream(), "\r\n\r\n");
        String status = head.split("\r\n", 2)[0];
        if (!status.matches("HTTP/1\\.[01] 2\\d\\d.*")) throw new IOException("proxy refused the CONNECT: " + status);
        return raw;
    }

    static String readUntil(InputStream in, String end) throws IOException {
        ByteArrayOutputStream seen = new ByteArrayOutputStream();
        while (!seen.toString(StandardCharsets.ISO_8859_1).endsWith(end)) {
            int b = in.read();
            if (b < 0) throw new IOException("closed after " + seen.size() + " bytes");
            seen.write(b);
        }
        return seen.toString(StandardCharsets.ISO_8859_1);
    }

    static String smtpReply(InputStream in) throws IOException {
        String line;
        StringBuilder reply = new StringBuilder();
        do {
            line = readUntil(in, "\r\n");
            reply.append(line);
        } while (line.length() > 3 && line.charAt(3) == '-');
        return reply.toString();
    }

    static void smtpStartTls(Socket raw) throws IOException {
        InputStream in = raw.getInputStream();
        OutputStream out = raw.getOutputStream();
        String greeting = smtpReply(in);
        if (!greeting.startsWith("220")) throw new IOException("SMTP greeting: " + greeting);
        out.write("EHLO tlsverify-jsse.test\r\n".getBytes(StandardCharsets.US_ASCII));
        String ehlo = smtpReply(in);
        if (!ehlo.startsWith("250") || !ehlo.toUpperCase().contains("STARTTLS")) throw new IOException("EHLO: " + ehlo);
        out.write("STARTTLS\r\n".getBytes(StandardCharsets.US_ASCII));
        String ready = smtpReply(in);
        if (!ready.startsWith("220")) throw new IOException("STARTTLS: " + ready);
    }

    static void ldapStartTlsByHand(Socket raw) throws IOException {  // through a proxy, where JNDI cannot go
        byte[] request = {0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, (byte) 0x80, 0x16};
        raw.getOutputStream().write(request);
        raw.getOutputStream().write("1.3.6.1.4.1.1466.20037".getBytes(StandardCharsets.US_ASCII));
        byte[] head = raw.getInputStream().readNBytes(2);
        byte[] body = raw.getInputStream().readNBytes(head[1] & 0xff);
        // 02 01 01 78 LL 0a 01 CODE: the resultCode is the first element of the ExtendedResponse
        if (body.length < 8 || body[7] != 0) throw new IOException("StartTLS refused");
    }

    static String ldapStartTls(SSLContext context, String host, int port, String sni, List<String> suites,
                               boolean checked) throws Exception {
        Hashtable<String, String> env = new Hashtable<>();
        env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.ldap.LdapCtxFactory");
        env.put(Context.PROVIDER_URL, "ldap://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port);
        env.put("com.sun.jndi.ldap.connect.timeout", "5000");
        env.put("com.sun.jndi.ldap.read.timeout", "5000");
        LdapContext ldap = new InitialLdapContext(env, null);
        try {
            StartTlsResponse tls = (StartTlsResponse) ldap.extendedOperation(new StartTlsRequest());
            tls.setEnabledCipherSuites(suites.toArray(new String[0]));
            if (!checked) tls.setHostnameVerifier((name, session) -> true);
            SSLSession session = tls.negotiate(new Tls12Only(context.getSocketFactory(), sni, suites));
            String suite = session.getCipherSuite();
            tls.close();
            return "OK " + suite;
        } finally {
            ldap.close();
        }
    }

    /** The JNDI client's socket factory, with the job's protocol and SNI set on each socket it makes. */
    static final class Tls12Only extends SSLSocketFactory {
        final SSLSocketFactory base;
        final String sni;
        final List<String> suites;

        Tls12Only(SSLSocketFactory base, String sni, List<String> suites) {
            this.base = base;
            this.sni = sni;
            this.suites = suites;
        }

        Socket made(Socket socket) {
            configure((SSLSocket) socket, sni, suites, null);
            return socket;
        }

        public Socket createSocket(Socket s, String h, int p, boolean a) throws IOException { return made(base.createSocket(s, h, p, a)); }
        public Socket createSocket(String h, int p) throws IOException { return made(base.createSocket(h, p)); }
        public Socket createSocket(String h, int p, InetAddress l, int lp) throws IOException { return made(base.createSocket(h, p, l, lp)); }
        public Socket createSocket(InetAddress h, int p) throws IOException { return made(base.createSocket(h, p)); }
        public Socket createSocket(InetAddress h, int p, InetAddress l, int lp) throws IOException { return made(base.createSocket(h, p, l, lp)); }
        public String[] getDefaultCipherSuites() { return base.getDefaultCipherSuites(); }
        public String[] getSupportedCipherSuites() { return base.getSupportedCipherSuites(); }
    }
}
