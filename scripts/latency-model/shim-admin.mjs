// Test-only: the admin Worker (build/admin/) behind the latency model's D1
// wrapper (model.mjs), so that an admin write costs its modelled round
// trips too. Nothing here is part of the Worker that ships.
import Service from "../../build/admin/index.js";
import { modelled } from "./model.mjs";

export default modelled(Service);
