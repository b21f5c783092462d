package spok.examples;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Monte-Carlo estimate of pi in Java (like Spark's JavaSparkPi).
 *
 * Arguments: [SLICES] [MODE]. MODE "fail" throws after the estimate (a failing job), MODE
 * "oom" allocates far more than a small driver heap holds (java.lang.OutOfMemoryError), and
 * MODE "sleep" keeps the job running for a while (to be aborted).
 */
public final class SparkPi {
    public static void main(String[] args) throws Exception {
        int slices = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        String mode = args.length > 1 ? args[1] : "";
        SparkSession spark = SparkSession.builder().appName("JavaSparkPi").getOrCreate();
        JavaSparkContext jsc = new JavaSparkContext(spark.sparkContext());
        int n = 100000 * slices;
        List<Integer> l = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            l.add(i);
        }
        JavaRDD<Integer> data = jsc.parallelize(l, slices);
        int count = data.map(i -> {
            double x = Math.random() * 2 - 1;
            double y = Math.random() * 2 - 1;
            return (x * x + y * y <= 1) ? 1 : 0;
        }).reduce(Integer::sum);
        System.out.println("Pi is roughly " + 4.0 * count / n);
        if (mode.equals("fail")) {
            throw new IllegalStateException("requested failure");
        }
        if (mode.equals("oom")) {
            List<long[]> hog = new ArrayList<>();
            while (true) {
                hog.add(new long[16 << 20]);
            }
        }
        if (mode.equals("sleep")) {
            Thread.sleep(600000);
        }
        spark.stop();
    }
}
