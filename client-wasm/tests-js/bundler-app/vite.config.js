// Only what the package README documents for Vite.
export default {
  optimizeDeps: { exclude: ["servicestack-server-events"] },
};
