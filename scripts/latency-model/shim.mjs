// Test-only: the token service (build/) behind the latency model's D1
// wrapper (model.mjs). Nothing here is part of the Worker that ships.
import Service from "../../build/index.js";
import { modelled } from "./model.mjs";

export default modelled(Service);
